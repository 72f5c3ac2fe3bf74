"""The domain of Pause (DESIGN.md section 2): rooms, meetings and what happens in them.

Every change to a meeting's content goes through ``rooms.services``, which appends a
``MeetingEvent`` in the same transaction; nothing here broadcasts.
"""

import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rooms.limits import (
    ACTION_MAX,
    CHALLENGE_ASK_MAX,
    CHALLENGE_CONTEXT_MAX,
    CHALLENGE_TITLE_MAX,
    CLUSTER_NAME_MAX,
    DISPLAY_NAME_MAX,
    IDEA_MAX,
    REASON_MAX,
    REF_MAX,
    REPLY_MAX,
    TAKEAWAY_MAX,
)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """An account, identified by email (django-allauth), with the name others see."""

    username = None
    email = models.EmailField(_("email address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=DISPLAY_NAME_MAX, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES)

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.public_name

    @property
    def public_name(self) -> str:
        return self.display_name or self.email.split("@")[0]


class Room(models.Model):
    """A community's persistent space: members, invite links, meetings and archive."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    allow_guests = models.BooleanField(
        _("allow guests"),
        default=True,
        help_text=_("Guests can join one meeting through its guest link, without an account."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="rooms"
    )

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("rooms:room", args=[self.pk])


class Role(models.TextChoices):
    OWNER = "owner", _("owner")
    FACILITATOR = "facilitator", _("facilitator")
    MEMBER = "member", _("member")


class Membership(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    calendar_token = models.CharField(max_length=64, unique=True, default=new_token)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="membership_unique_room_user")
        ]

    def __str__(self):
        return f"{self.user} @ {self.room} ({self.role})"

    @property
    def can_facilitate(self) -> bool:
        return self.role in (Role.OWNER, Role.FACILITATOR)


class Invite(models.Model):
    """A link that makes a logged-in user a member of the room, or, with ``meeting``
    set, lets a guest without an account join that one meeting."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    meeting = models.ForeignKey(
        "Meeting", on_delete=models.CASCADE, null=True, blank=True, related_name="guest_invites"
    )
    token = models.CharField(max_length=64, unique=True, default=new_token)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("invite link")
        verbose_name_plural = _("invite links")

    def __str__(self):
        return f"{self.room} invite {self.token[:6]}…"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class MeetingFormat(models.TextChoices):
    OPEN = "open", _("Open brainstorm")
    HOT_SEAT = "hot-seat", _("Hot seat (codéveloppement)")


class MeetingState(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    LIVE = "live", _("live")
    ENDED = "ended", _("ended")


class Anonymity(models.TextChoices):
    OFF = "off", _("names shown")
    OPTIONAL = "optional", _("each author chooses")
    ALWAYS = "always", _("always anonymous")


class Meeting(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="meetings")
    title = models.CharField(_("title"), max_length=160)
    scheduled_at = models.DateTimeField(_("starts at"))
    format = models.CharField(
        _("format"), max_length=16, choices=MeetingFormat.choices, default=MeetingFormat.HOT_SEAT
    )
    state = models.CharField(
        max_length=16, choices=MeetingState.choices, default=MeetingState.SCHEDULED
    )
    phase = models.CharField(max_length=24, default="lobby")
    active_challenge = models.ForeignKey(
        "Challenge", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Settings the facilitator can change during the meeting.
    anonymity = models.CharField(
        _("anonymity"), max_length=16, choices=Anonymity.choices, default=Anonymity.OPTIONAL
    )
    vote_budget = models.PositiveSmallIntegerField(_("votes per person per challenge"), default=3)
    hide_until_reveal = models.BooleanField(_("hide ideas until reveal"), default=False)
    locked = models.BooleanField(default=False)
    spotlight_idea = models.ForeignKey(
        "Idea", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Server-side timer: running when timer_ends_at is set; paused when only
    # timer_remaining_ms is set.
    timer_ends_at = models.DateTimeField(null=True, blank=True)
    timer_remaining_ms = models.PositiveIntegerField(null=True, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        ordering = ["-scheduled_at"]
        indexes = [models.Index(fields=["room", "state", "scheduled_at"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("rooms:meeting", args=[self.room_id, self.pk])


class Participant(models.Model):
    """Someone in one meeting: a room member (``user`` set) or a guest (``guest_key``)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="participations",
    )
    guest_key = models.UUIDField(null=True, blank=True, default=None)
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX)
    muted = models.BooleanField(default=False)
    removed = models.BooleanField(default=False)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "user"],
                condition=Q(user__isnull=False),
                name="participant_unique_user",
            ),
            models.UniqueConstraint(
                fields=["meeting", "guest_key"],
                condition=Q(guest_key__isnull=False),
                name="participant_unique_guest",
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def is_guest(self) -> bool:
        return self.user_id is None


def new_guest_key():
    return uuid.uuid4()


class ChallengeStatus(models.TextChoices):
    ACTIVE = "active", _("on the agenda")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Consent(models.TextChoices):
    FULL = "full", _("everything")
    ANONYMISED = "anonymised", _("without names")
    SUMMARY = "summary", _("summary only, no idea texts")
    PRIVATE = "private", _("only me")


class Challenge(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="challenges")
    owner = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="challenges")
    title = models.CharField(_("title"), max_length=CHALLENGE_TITLE_MAX)
    context = models.TextField(_("context"), blank=True, max_length=CHALLENGE_CONTEXT_MAX)
    ask = models.TextField(_("help wanted"), blank=True, max_length=CHALLENGE_ASK_MAX)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ChallengeStatus.choices, default=ChallengeStatus.ACTIVE
    )
    consent = models.CharField(
        _("what the archive keeps"), max_length=16, choices=Consent.choices, default=Consent.FULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("challenge")
        verbose_name_plural = _("challenges")
        ordering = ["position", "id"]

    def __str__(self):
        return self.title


class IdeaKind(models.TextChoices):
    IDEA = "idea", _("idea")
    QUESTION = "question", _("question")


class Cluster(models.Model):
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="clusters")
    name = models.CharField(max_length=CLUSTER_NAME_MAX)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class Idea(models.Model):
    # No index of its own: the (meeting, challenge) index serves lookups by meeting, and
    # every index is one more write per idea, the hottest insert.
    meeting = models.ForeignKey(
        Meeting, on_delete=models.CASCADE, related_name="ideas", db_index=False
    )
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="ideas")
    author = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="ideas")
    kind = models.CharField(max_length=16, choices=IdeaKind.choices, default=IdeaKind.IDEA)
    text = models.TextField(max_length=IDEA_MAX)
    anonymous = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    # An idea lives in at most one cluster: a foreign key, not a many-to-many.
    cluster = models.ForeignKey(
        Cluster, on_delete=models.SET_NULL, null=True, blank=True, related_name="ideas"
    )
    removed_reason = models.CharField(max_length=REASON_MAX, blank=True)
    removed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("idea")
        verbose_name_plural = _("ideas")
        ordering = ["id"]
        indexes = [models.Index(fields=["meeting", "challenge"])]

    def __str__(self):
        return self.text[:60]


class Reply(models.Model):
    """A build-on ("yes, and…") under an idea."""

    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="replies")
    text = models.TextField(max_length=REPLY_MAX)
    anonymous = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["id"]

    def __str__(self):
        return self.text[:60]


class Vote(models.Model):
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="votes")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="votes")
    # Denormalised so the budget (per participant per challenge) is one indexed count.
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        constraints = [
            models.UniqueConstraint(fields=["idea", "participant"], name="vote_one_per_idea")
        ]
        indexes = [models.Index(fields=["participant", "challenge"])]

    def __str__(self):
        return f"{self.participant} → {self.idea_id}"


class Reaction(models.Model):
    idea = models.ForeignKey(Idea, on_delete=models.CASCADE, related_name="reactions")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="reactions")
    emoji = models.CharField(max_length=8)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        constraints = [
            models.UniqueConstraint(fields=["idea", "participant", "emoji"], name="reaction_unique")
        ]

    def __str__(self):
        return f"{self.emoji} {self.idea_id}"


class ActionStatus(models.TextChoices):
    OPEN = "open", _("to do")
    IN_PROGRESS = "in_progress", _("in progress")
    DONE = "done", _("done")
    DROPPED = "dropped", _("dropped")


class Action(models.Model):
    """A next step the challenge owner commits to; followed up at the next meeting."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="actions")
    owner = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="actions")
    text = models.TextField(max_length=ACTION_MAX)
    due_date = models.DateField(null=True, blank=True)
    source_ideas = models.ManyToManyField(Idea, blank=True, related_name="actions")
    status = models.CharField(
        max_length=16, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    status_note = models.CharField(max_length=REASON_MAX, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        ordering = ["id"]

    def __str__(self):
        return self.text[:60]


class Takeaway(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="takeaways")
    author = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="takeaways")
    text = models.TextField(max_length=TAKEAWAY_MAX)
    anonymous = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("takeaway")
        verbose_name_plural = _("takeaways")
        ordering = ["id"]

    def __str__(self):
        return self.text[:60]


class MeetingEvent(models.Model):
    """Append-only log of every change of a meeting; ``seq`` has no gap per meeting."""

    # Indexed by the (meeting, seq) constraint: no second index to write with each event.
    meeting = models.ForeignKey(
        Meeting, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    name = models.CharField(max_length=40)
    actor = models.ForeignKey(
        Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("meeting event")
        verbose_name_plural = _("meeting events")
        ordering = ["meeting", "seq"]
        constraints = [models.UniqueConstraint(fields=["meeting", "seq"], name="event_unique_seq")]

    def __str__(self):
        return f"#{self.seq} {self.name}"


class CommandReceipt(models.Model):
    """The answer given to a client command, keyed by its ``ref``: a retry with the same
    ref gets the same answer and writes nothing (DESIGN.md section 4)."""

    # Indexed by the (participant, ref) constraint: no second index to write per command.
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="receipts", db_index=False
    )
    ref = models.CharField(max_length=REF_MAX)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("command receipt")
        verbose_name_plural = _("command receipts")
        constraints = [
            models.UniqueConstraint(fields=["participant", "ref"], name="receipt_unique_ref")
        ]

    def __str__(self):
        return self.ref


class Summary(models.Model):
    """The archived account of an ended meeting, built from the data, editable before
    publishing."""

    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, related_name="summary")
    data = models.JSONField(default=dict)
    intro = models.TextField(_("introduction"), blank=True, max_length=5000)
    conclusion = models.TextField(_("conclusion"), blank=True, max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("summary")
        verbose_name_plural = _("summaries")

    def __str__(self):
        return f"Summary of {self.meeting}"
