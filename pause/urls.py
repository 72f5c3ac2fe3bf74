from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from pause.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("rooms.urls")),
    path("", include("rooms.urls_archive")),
    path("", include("rooms.urls_guests")),
]
