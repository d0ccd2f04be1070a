from django.urls import path

from rules import simulator_views, views

app_name = "rules"

urlpatterns = [
    path("", views.rule_list, name="list"),
    path("new/", views.rule_create, name="create"),
    path("<int:pk>/edit/", views.rule_edit, name="edit"),
    path("<int:pk>/enable/", views.rule_set_enabled, {"enabled": True}, name="enable"),
    path("<int:pk>/disable/", views.rule_set_enabled, {"enabled": False}, name="disable"),
    path("bulk/", views.rule_bulk_enable, name="bulk"),
    path("simulate/", simulator_views.simulate, name="simulate"),
]
