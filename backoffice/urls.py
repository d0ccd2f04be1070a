from django.contrib.auth import views as auth_views
from django.urls import include, path

from backoffice import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", views.backoffice_start, name="backoffice"),
    path("admin/integrations/", include("integrations.urls")),
    path("admin/payment-rules/", include("rules.urls")),
    path("admin/orders/", include("payments.backoffice_urls")),
    path("", include("payments.urls")),
    path("admin/payment-terms/", views.payment_term_list, name="payment_terms"),
    path("admin/payment-terms/new/", views.payment_term_create, name="payment_term_create"),
    path("admin/payment-terms/<int:pk>/edit/", views.payment_term_edit, name="payment_term_edit"),
]
