from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.integration_list, name="list"),
    path("new/", views.integration_create, name="create"),
    path("<int:pk>/", views.integration_detail, name="detail"),
    path("<int:pk>/edit/", views.integration_edit, name="edit"),
    path("<int:pk>/activate/", views.integration_set_active, {"active": True}, name="activate"),
    path("<int:pk>/deactivate/", views.integration_deactivate, name="deactivate"),
    path("<int:pk>/delete/", views.integration_delete, name="delete"),
    path("<int:pk>/check-connection/", views.integration_check_connection, name="check"),
]
