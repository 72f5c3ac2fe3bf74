"""Django admin for staff doing support.

Meeting content (challenges, ideas, votes, events…) is read-only here: every change to a
meeting goes through ``rooms.services`` so that it is logged and broadcast. Anonymity
holds in the admin too: only superusers see who wrote an anonymous idea, reply or
takeaway; other staff see "anonymous", cannot search or filter by author, and do not see
the event log's actors and payloads (which name every author).
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rooms.models import (
    Action,
    Challenge,
    Cluster,
    CommandReceipt,
    Idea,
    Invite,
    Meeting,
    MeetingEvent,
    Membership,
    Participant,
    Reaction,
    Reply,
    Room,
    Summary,
    Takeaway,
    User,
    Vote,
)

ANONYMOUS = _("anonymous")


def author_label(obj, request) -> str:
    """The author of an item as staff may see it: hidden when anonymous, unless superuser."""
    if obj.anonymous and not request.user.is_superuser:
        return str(ANONYMOUS)
    return obj.author.display_name


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable and deletable by staff, never added or edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --------------------------------------------------------------------------- accounts


class PauseUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email", "display_name")


class PauseUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = PauseUserChangeForm
    add_form = PauseUserCreationForm
    ordering = ("email",)
    list_display = (
        "email",
        "display_name",
        "language",
        "room_count",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "language")
    search_fields = ("email", "display_name")
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name", "language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "display_name", "usable_password", "password1", "password2"),
            },
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_rooms=Count("memberships"))

    @admin.display(description=_("rooms"), ordering="n_rooms")
    def room_count(self, obj):
        return obj.n_rooms


# --------------------------------------------------------------------------- rooms


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role", "joined_at")
    readonly_fields = ("joined_at",)
    raw_id_fields = ("user",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "meeting_count", "allow_guests", "created_at")
    search_fields = ("name", "description", "memberships__user__email")
    list_filter = ("allow_guests", "created_at")
    inlines = [MembershipInline]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_members=Count("memberships", distinct=True),
                n_meetings=Count("meetings", distinct=True),
            )
        )

    @admin.display(description=_("members"), ordering="n_members")
    def member_count(self, obj):
        return obj.n_members

    @admin.display(description=_("meetings"), ordering="n_meetings")
    def meeting_count(self, obj):
        return obj.n_meetings


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "role", "joined_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__display_name", "room__name")
    raw_id_fields = ("user", "room")
    readonly_fields = ("calendar_token",)


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = (
        "room",
        "short_token",
        "meeting",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "uses",
    )
    list_filter = ("created_at", "expires_at", "revoked_at")
    search_fields = ("room__name", "token", "created_by__email")
    raw_id_fields = ("room", "meeting", "created_by")
    readonly_fields = ("token", "uses", "created_at")
    actions = ["revoke"]

    @admin.display(description=_("token"))
    def short_token(self, obj):
        return f"{obj.token[:6]}…"

    @admin.action(description=_("Revoke the selected invite links"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request, _("%(count)d links revoked.") % {"count": count}, messages.SUCCESS
        )


# --------------------------------------------------------------------------- meetings


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ("title", "room", "state", "format", "phase", "scheduled_at", "last_seq")
    list_filter = ("state", "format", "scheduled_at")
    search_fields = ("title", "room__name")
    date_hierarchy = "scheduled_at"
    raw_id_fields = ("room", "created_by")
    # The live state changes only through the meeting services (logged, broadcast).
    readonly_fields = (
        "state",
        "format",
        "phase",
        "active_challenge",
        "anonymity",
        "vote_budget",
        "hide_until_reveal",
        "locked",
        "spotlight_idea",
        "timer_ends_at",
        "timer_remaining_ms",
        "last_seq",
        "started_at",
        "ended_at",
        "created_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "meeting", "user", "is_guest", "muted", "removed", "joined_at")
    list_filter = ("muted", "removed")
    search_fields = ("display_name", "user__email", "meeting__title")

    @admin.display(boolean=True, description=_("guest"))
    def is_guest(self, obj):
        return obj.user_id is None


@admin.register(Challenge)
class ChallengeAdmin(ReadOnlyAdmin):
    list_display = ("title", "meeting", "owner", "status", "consent", "position")
    list_filter = ("status", "consent")
    search_fields = ("title", "context", "ask", "owner__display_name", "meeting__title")


class AnonymousAuthorAdmin(ReadOnlyAdmin):
    """For models with ``author`` and ``anonymous``: the author column, the change page
    and the search hide anonymous authors from non-superusers."""

    columns_before: tuple = ()
    columns_after: tuple = ()

    def get_list_display(self, request):
        def author(obj):
            return author_label(obj, request)

        author.short_description = _("author")
        return (*self.columns_before, author, *self.columns_after)

    def get_exclude(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_exclude(request, obj)
        return ["author"]

    def get_readonly_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.fields]
        if not request.user.is_superuser:
            fields.remove("author")
        return fields


@admin.register(Idea)
class IdeaAdmin(AnonymousAuthorAdmin):
    columns_before = ("short_text",)
    columns_after = ("kind", "challenge", "meeting", "anonymous", "hidden", "removed", "created_at")
    list_filter = ("kind", "anonymous", "hidden", "removed")
    search_fields = ("text", "challenge__title", "meeting__title")

    @admin.display(description=_("text"))
    def short_text(self, obj):
        return obj.text[:80]


@admin.register(Reply)
class ReplyAdmin(AnonymousAuthorAdmin):
    columns_before = ("short_text",)
    columns_after = ("idea", "anonymous", "created_at")
    list_filter = ("anonymous",)
    search_fields = ("text",)

    @admin.display(description=_("text"))
    def short_text(self, obj):
        return obj.text[:80]


@admin.register(Takeaway)
class TakeawayAdmin(AnonymousAuthorAdmin):
    columns_before = ("short_text",)
    columns_after = ("meeting", "anonymous", "created_at")
    list_filter = ("anonymous",)
    search_fields = ("text", "meeting__title")

    @admin.display(description=_("text"))
    def short_text(self, obj):
        return obj.text[:80]


@admin.register(Vote)
class VoteAdmin(ReadOnlyAdmin):
    list_display = ("idea", "participant", "challenge", "created_at")
    search_fields = ("participant__display_name", "idea__text")


@admin.register(Reaction)
class ReactionAdmin(ReadOnlyAdmin):
    list_display = ("emoji", "idea", "participant")
    list_filter = ("emoji",)
    search_fields = ("participant__display_name", "idea__text")


@admin.register(Cluster)
class ClusterAdmin(ReadOnlyAdmin):
    list_display = ("name", "challenge", "position")
    search_fields = ("name", "challenge__title")


@admin.register(Action)
class ActionAdmin(ReadOnlyAdmin):
    list_display = ("short_text", "owner", "challenge", "status", "due_date", "updated_at")
    list_filter = ("status", "due_date")
    search_fields = ("text", "owner__display_name", "challenge__title")

    @admin.display(description=_("text"))
    def short_text(self, obj):
        return obj.text[:80]


@admin.register(MeetingEvent)
class MeetingEventAdmin(ReadOnlyAdmin):
    list_filter = ("name",)
    search_fields = ("meeting__title", "name")

    def get_list_display(self, request):
        if request.user.is_superuser:
            return ("meeting", "seq", "name", "actor", "at")
        return ("meeting", "seq", "name", "at")

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ("meeting", "seq", "name", "actor", "at", "data")
        return ("meeting", "seq", "name", "at")

    def has_delete_permission(self, request, obj=None):
        return False  # the log is append-only


@admin.register(CommandReceipt)
class CommandReceiptAdmin(ReadOnlyAdmin):
    search_fields = ("ref",)

    def get_list_display(self, request):
        if request.user.is_superuser:
            return ("ref", "participant", "created_at")
        return ("ref", "created_at")

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ("ref", "participant", "result", "created_at")
        return ("ref", "created_at")


@admin.register(Summary)
class SummaryAdmin(admin.ModelAdmin):
    list_display = ("meeting", "created_at", "published_at", "emailed_at")
    list_filter = ("published_at",)
    search_fields = ("meeting__title", "meeting__room__name", "intro", "conclusion")
    readonly_fields = ("meeting", "data", "created_at", "published_at", "emailed_at")

    def has_add_permission(self, request):
        return False

    def get_fields(self, request, obj=None):
        # The built data names the authors it may show; only superusers read it raw.
        fields = ["meeting", "intro", "conclusion", "created_at", "published_at", "emailed_at"]
        if request.user.is_superuser:
            fields.append("data")
        return fields
