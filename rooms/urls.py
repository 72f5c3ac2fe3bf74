from django.urls import path

from rooms import views

app_name = "rooms"

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("join/<str:token>/", views.join, name="join"),
    path("rooms/new/", views.room_create, name="room_create"),
    path("rooms/<int:room_id>/", views.room_detail, name="room"),
    path("rooms/<int:room_id>/edit/", views.room_edit, name="room_edit"),
    path("rooms/<int:room_id>/leave/", views.room_leave, name="room_leave"),
    path("rooms/<int:room_id>/invites/", views.invites, name="invites"),
    path(
        "rooms/<int:room_id>/invites/<int:invite_id>/revoke/",
        views.invite_revoke,
        name="invite_revoke",
    ),
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("rooms/<int:room_id>/meetings/new/", views.meeting_create, name="meeting_create"),
    path("rooms/<int:room_id>/meetings/<int:meeting_id>/", views.meeting_detail, name="meeting"),
]
