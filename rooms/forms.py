from django import forms
from django.utils.translation import gettext_lazy as _

from rooms.limits import DISPLAY_NAME_MAX


class SignupExtraForm(forms.Form):
    """Extra field on allauth's sign-up form: the name other members see."""

    display_name = forms.CharField(label=_("Display name"), max_length=DISPLAY_NAME_MAX)

    def signup(self, request, user):
        user.display_name = self.cleaned_data["display_name"]
        user.save(update_fields=["display_name"])
