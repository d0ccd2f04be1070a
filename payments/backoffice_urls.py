from django.urls import path

from payments import backoffice_views as views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("<int:pk>/", views.order_detail, name="detail"),
    path(
        "<int:pk>/payments/<int:transaction_pk>/<slug:action>/",
        views.order_payment_action,
        name="payment_action",
    ),
]
