#!/bin/bash
# Builds /app/payments-service with a fixed, reproducible history (dates and authors pinned).
set -euo pipefail
STRIPE="sk_live_51NqT8bE4xKp2VwZr7Yd3Lm9Hs0Jc6Fa1Ug5Ri8Ot2Wn4Qb7Xe"
DBPASS='Tr0ub4dor&3-prod!'
REPO=/app/payments-service
mkdir -p "$REPO" && cd "$REPO"
git init -q -b main
git config user.name "Dana Kim"
git config user.email "dana@corp.example"

commit() {  # commit DATE AUTHOR_NAME AUTHOR_EMAIL MESSAGE
    git add -A
    GIT_AUTHOR_DATE="$1" GIT_COMMITTER_DATE="$1" GIT_AUTHOR_NAME="$2" GIT_AUTHOR_EMAIL="$3" \
        git commit -q -m "$4"
}

mkdir -p app config
cat > README.md <<'MD'
# payments-service

Small Flask-style service that wraps the Stripe API for the shop backend.
MD
printf 'stripe==7.4.0\nrequests==2.31.0\n' > requirements.txt
touch app/__init__.py
cat > app/server.py <<'PY'
from app.billing import charge


def handle(request):
    return charge(request["customer"], request["amount_cents"])
PY
commit "2024-01-08T09:12:00+01:00" "Dana Kim" "dana@corp.example" "Initial commit: service skeleton"

cat > config/settings.py <<PY
STRIPE_API_BASE = "https://api.stripe.com/v1"
STRIPE_API_KEY = "$STRIPE"
TIMEOUT_SECONDS = 10
PY
cat > app/billing.py <<'PY'
import requests

from config import settings


def charge(customer, amount_cents):
    return requests.post(f"{settings.STRIPE_API_BASE}/charges",
                         auth=(settings.STRIPE_API_KEY, ""),
                         data={"customer": customer, "amount": amount_cents},
                         timeout=settings.TIMEOUT_SECONDS)
PY
commit "2024-01-09T14:40:00+01:00" "Dana Kim" "dana@corp.example" "Add Stripe client wrapper"

cat > docker-compose.yml <<'YML'
services:
  db:
    image: postgres:16
    env_file: .env
  app:
    build: .
    env_file: .env
YML
cat > .env <<ENV
POSTGRES_USER=payments
DB_PASSWORD=$DBPASS
POSTGRES_PASSWORD=$DBPASS
STRIPE_API_KEY=$STRIPE
ENV
commit "2024-01-11T10:05:00+01:00" "Luis Ortega" "luis@corp.example" "Add docker-compose for local dev"

cat >> app/billing.py <<'PY'


def refund(charge_id, amount_cents=None):
    data = {"charge": charge_id}
    if amount_cents is not None:
        data["amount"] = amount_cents
    return requests.post(f"{settings.STRIPE_API_BASE}/refunds",
                         auth=(settings.STRIPE_API_KEY, ""), data=data,
                         timeout=settings.TIMEOUT_SECONDS)
PY
commit "2024-01-15T16:20:00+01:00" "Dana Kim" "dana@corp.example" "Add refund endpoint"
GIT_COMMITTER_DATE="2024-01-15T17:00:00+01:00" git tag -a v1.0 -m "Release 1.0"

git branch release/1.x
cat > config/settings.py <<'PY'
import os

STRIPE_API_BASE = "https://api.stripe.com/v1"
STRIPE_API_KEY = os.environ["STRIPE_API_KEY"]
TIMEOUT_SECONDS = 10
PY
git rm -q --cached .env
rm .env
printf '.env\n__pycache__/\n' > .gitignore
commit "2024-01-22T11:30:00+01:00" "Priya Nair" "priya@corp.example" "Read secrets from environment"

mkdir -p tests
cat > tests/test_refunds.py <<'PY'
from app import billing

# Stripe's documented test-mode key; safe to commit.
TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"


def test_refund_payload(monkeypatch):
    sent = {}
    monkeypatch.setattr(billing.requests, "post", lambda url, **kw: sent.update(url=url, **kw))
    monkeypatch.setattr(billing.settings, "STRIPE_API_KEY", TEST_KEY)
    billing.refund("ch_1", 500)
    assert sent["data"] == {"charge": "ch_1", "amount": 500}
PY
commit "2024-01-23T09:45:00+01:00" "Priya Nair" "priya@corp.example" "Add tests for refunds"

git checkout -q release/1.x
sed -i 's/TIMEOUT_SECONDS = 10/TIMEOUT_SECONDS = 30/' config/settings.py
commit "2024-01-24T08:10:00+01:00" "Luis Ortega" "luis@corp.example" "Hotfix: longer Stripe timeout"

git checkout -q main
sed -i 's/^stripe==7.4.0/stripe==7.9.0/' requirements.txt
commit "2024-02-01T13:00:00+01:00" "Dana Kim" "dana@corp.example" "Bump stripe to 7.9.0"
git gc -q
