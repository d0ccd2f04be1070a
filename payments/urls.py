from django.urls import path

from payments import storefront_views as views

app_name = "payments"

urlpatterns = [
    path("checkout/<str:number>/", views.checkout, name="checkout"),
    path("checkout/<str:number>/done/", views.checkout_done, name="checkout_done"),
]
