"""Forms of the HTTP pages. They only parse and validate input; the rules live in
``rooms.services`` (a ``DomainError`` from a service is shown on the form)."""

import datetime as dt

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from rooms.errors import DomainError
from rooms.limits import DISPLAY_NAME_MAX
from rooms.models import MeetingFormat, Role, User
from rooms.services.rooms import MEETING_TITLE_MAX, ROOM_NAME_MAX


class SignupExtraForm(forms.Form):
    """Extra field on allauth's sign-up form: the name other members see."""

    display_name = forms.CharField(
        label=_("Display name"),
        max_length=DISPLAY_NAME_MAX,
        help_text=_("The name other members see, e.g. your first name."),
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )

    def signup(self, request, user):
        user.display_name = self.cleaned_data["display_name"]
        user.language = (getattr(request, "LANGUAGE_CODE", "") or "")[:2]
        if user.language not in dict(settings.LANGUAGES):
            user.language = ""
        user.save(update_fields=["display_name", "language"])


class DomainErrorFormMixin:
    def add_domain_error(self, error: DomainError) -> None:
        """Show a service's refusal on the field it names, or on the whole form."""
        field = error.field if error.field in self.fields else None
        self.add_error(field, str(error.message))


class RoomForm(DomainErrorFormMixin, forms.Form):
    name = forms.CharField(
        label=_("Name of the room"),
        max_length=ROOM_NAME_MAX,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Pause entrepreneuses Lyon")}),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=2000,
        help_text=_("Who the room is for and how often you meet. Only members see it."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )


INVITE_EXPIRY_CHOICES = [
    ("", _("Never (until revoked)")),
    ("1", _("In 1 day")),
    ("7", _("In 7 days")),
    ("30", _("In 30 days")),
]


class InviteForm(DomainErrorFormMixin, forms.Form):
    expires_in_days = forms.ChoiceField(
        label=_("Link expires"), choices=INVITE_EXPIRY_CHOICES, required=False
    )

    def expires_at(self) -> dt.datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + dt.timedelta(days=int(days)) if days else None


def _default_meeting_start() -> dt.datetime:
    """Next week, same weekday, at 18:30 local time: a sensible first suggestion."""
    local = timezone.localtime() + dt.timedelta(days=7)
    return local.replace(hour=18, minute=30, second=0, microsecond=0)


class MeetingForm(DomainErrorFormMixin, forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=MEETING_TITLE_MAX,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Pause of Monday 3 March")}),
    )
    scheduled_at = forms.DateTimeField(
        label=_("Starts at"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=MeetingFormat.choices,
        initial=MeetingFormat.HOT_SEAT,
        widget=forms.RadioSelect,
    )

    FORMAT_HELP = {
        MeetingFormat.HOT_SEAT: _(
            "One challenge at a time: the owner presents, the group asks questions, "
            "then brings ideas; the owner leaves with an action plan."
        ),
        MeetingFormat.OPEN: _(
            "Everyone posts ideas on every challenge at once, then votes: quick and lively."
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scheduled_at"].initial = _default_meeting_start

    def format_choices(self):
        """(value, label, help, checked) for the radio cards of the template."""
        current = self["format"].value() or MeetingFormat.HOT_SEAT
        return [
            (value, label, self.FORMAT_HELP.get(value, ""), value == current)
            for value, label in MeetingFormat.choices
        ]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "language"]
        labels = {"display_name": _("Display name"), "language": _("Language")}
        help_texts = {
            "display_name": _("The name other members see in rooms and meetings."),
            "language": _("Pages and emails use this language."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["display_name"].required = True
        self.fields["language"].choices = [("", _("Same as my browser"))] + [
            (code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES
        ]
