from django.urls import path

from rooms import views_guests

app_name = "guests"

urlpatterns = [
    path("g/<str:token>/", views_guests.guest_join, name="join"),
    path("g/<str:token>/board/", views_guests.guest_board, name="board"),
    path(
        "rooms/<int:room_id>/meetings/<int:meeting_id>/guest-link/",
        views_guests.guest_link,
        name="link",
    ),
]
