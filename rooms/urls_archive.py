from django.urls import path, re_path

from rooms import views_archive as views

app_name = "archive"

urlpatterns = [
    path("rooms/<int:room_id>/archive/", views.room_archive, name="room"),
    path(
        "rooms/<int:room_id>/meetings/<int:meeting_id>/summary/",
        views.summary_page,
        name="summary",
    ),
    path(
        "rooms/<int:room_id>/meetings/<int:meeting_id>/summary/edit/",
        views.summary_edit,
        name="summary_edit",
    ),
    path(
        "rooms/<int:room_id>/meetings/<int:meeting_id>/summary/publish/",
        views.summary_publish,
        name="summary_publish",
    ),
    path(
        "rooms/<int:room_id>/meetings/<int:meeting_id>/challenges/<int:challenge_id>/consent/",
        views.challenge_consent,
        name="consent",
    ),
    re_path(
        r"^rooms/(?P<room_id>[0-9]+)/meetings/(?P<meeting_id>[0-9]+)/export\.(?P<fmt>md|csv|json)$",
        views.meeting_export,
        name="export",
    ),
    path("me/actions/", views.my_actions, name="my_actions"),
    path("search/", views.search_page, name="search"),
    re_path(
        r"^calendar/(?P<token>[A-Za-z0-9_-]{16,64})\.ics$", views.calendar_feed, name="calendar"
    ),
]
