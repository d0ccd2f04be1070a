"""The payment ledger arrives with the checkout issue; the app is registered now so that its
migrations and permissions have a stable home."""
