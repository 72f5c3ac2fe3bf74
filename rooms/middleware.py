"""The language of a page: the logged-in user's preference (``User.language``) first, then
what Django's LocaleMiddleware picked from the language cookie or the browser.

The language switcher posts to Django's ``set_language``; for a logged-in user this
middleware also stores the choice as their preference, so it follows them to every device
and to the emails Pause sends them.
"""

from django.conf import settings
from django.urls import reverse
from django.utils import translation


class UserLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        user = getattr(request, "user", None)
        authenticated = user is not None and user.is_authenticated
        if authenticated and user.language in self.languages:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        response = self.get_response(request)
        if authenticated and request.method == "POST" and response.status_code in (302, 204):
            self._remember_switch(request, user)
        return response

    def _remember_switch(self, request, user):
        if request.path != reverse("set_language"):
            return
        language = request.POST.get("language", "")
        if language in self.languages and language != user.language:
            user.language = language
            user.save(update_fields=["language"])
