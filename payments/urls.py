from django.urls import path

from payments import payment_step_views as step_views
from payments import storefront_views as views
from payments import webhook_views

app_name = "payments"

urlpatterns = [
    path("checkout/<str:number>/", views.checkout, name="checkout"),
    path("checkout/<str:number>/done/", views.checkout_done, name="checkout_done"),
    path("checkout/<str:number>/pay/<int:pk>/", step_views.checkout_pay, name="checkout_pay"),
    path(
        "checkout/<str:number>/pay/<int:pk>/abandon/",
        step_views.checkout_pay_abandon,
        name="checkout_pay_abandon",
    ),
    path("payment/return/<str:token>/", step_views.checkout_return, name="checkout_return"),
    path("payment/cancel/<str:token>/", step_views.checkout_cancel, name="checkout_cancel"),
    path("payment/notify/<str:token>/", step_views.checkout_notify, name="checkout_notify"),
    path("webhooks/<str:token>/", webhook_views.webhook, name="webhook"),
]
