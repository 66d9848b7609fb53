"""Two officers posting to the same loan at the same moment: both payments count, nothing is
lost or double-allocated.

The app is served on a loopback port by werkzeug, a thread per request, each request with its
own app context and database session, as under gunicorn; the requests are real HTTP, released
together by a barrier. On PostgreSQL the second posting waits for the loan's row lock; on
SQLite a posting that finds the database locked runs again (``commit_with_retry``). Either
way every payment must be there, allocated once.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.serving import make_server

from loans import services
from loans.models import Allocation, Installment, Loan, Repayment
from shg.errors import Invalid
from shg.extensions import db

D = Decimal
PER_OFFICER = 10


@pytest.fixture
def live_server(app):
    """The app on 127.0.0.1 at a free port, served from a background thread; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def call(url: str, headers: dict, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_two_officers_posting_to_one_loan_at_once_lose_nothing(
        app, live_server, create_loan, create_member, create_user, api_token):
    member = create_member(full_name="Айгуль Токтогулова")
    loan = create_loan(member=member, principal=D("12000.00"), installments=12, rate=D("24"),
                       disbursed_on=date(2024, 1, 10))
    district = member.current_membership.group.village.district
    officers = [create_user("loan_officer", districts=[district], full_name=name)
                for name in ("Бакыт", "Динара")]
    db.session.commit()
    loan_id, principal = loan.id, loan.principal
    url = f"{live_server}/api/v1/loans/{loan_id}"
    tokens = [api_token(officer) for officer in officers]
    for headers in tokens:  # the token's first use is a write of its own: not part of the race
        assert call(url, headers)[0] == 200

    # officer 0 posts 100.00, 101.00 …; officer 1 posts 200.00, 201.00 …, on varied days
    sent = [(k, i, {"paid_on": (date(2024, 2, 1) + timedelta(days=3 * i + k)).isoformat(),
                    "amount": f"{100 * (k + 1) + i}.00", "receipt_no": f"{k}-{i}"})
            for k in range(len(officers)) for i in range(PER_OFFICER)]
    barrier = threading.Barrier(len(sent))
    answers: dict[str, tuple[int, dict]] = {}

    def post(k, body):
        barrier.wait()
        answers[body["receipt_no"]] = call(url + "/repayments", tokens[k], body)

    threads = [threading.Thread(target=post, args=(k, body)) for k, _i, body in sent]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # every request answered 201, with allocations that add up to its amount
    assert sorted(answers) == sorted(body["receipt_no"] for _k, _i, body in sent)
    for k, _i, body in sent:
        status, answer = answers[body["receipt_no"]]
        assert status == 201, (body, answer)
        assert answer["amount"] == body["amount"] and answer["paid_on"] == body["paid_on"]
        assert sum(D(a["amount"]) for a in answer["allocations"]) == D(body["amount"])

    db.session.rollback()
    db.session.expire_all()
    loan = db.session.get(Loan, loan_id)
    repayments = db.session.scalars(select(Repayment).where(Repayment.loan_id == loan_id)).all()
    # exactly the twenty payments, each once, none reversed
    assert sorted((r.receipt_no, r.amount, r.paid_on.isoformat()) for r in repayments) == \
        sorted((b["receipt_no"], D(b["amount"]), b["paid_on"]) for _k, _i, b in sent)
    assert not any(r.is_reversed for r in repayments)
    # each payment allocated exactly once: its allocations add up to its amount
    rows = db.session.scalars(select(Allocation).join(Repayment)
                              .where(Repayment.loan_id == loan_id)).all()
    by_payment = defaultdict(lambda: D("0"))
    for row in rows:
        by_payment[row.repayment_id] += row.amount
    assert {r.id: r.amount for r in repayments} == dict(by_payment)
    # the installments' paid columns are the sums of the allocations against them
    by_line = defaultdict(lambda: D("0"))
    for row in rows:
        by_line[(row.installment_id, row.component)] += row.amount
    installments = db.session.scalars(select(Installment).where(
        Installment.loan_id == loan_id)).all()
    for i in installments:
        for component in ("principal", "interest", "fee", "penalty"):
            assert getattr(i, f"{component}_paid") == by_line[(i.id, component)], (i.number,
                                                                                   component)
    # no double allocation: what the loan still owes is the principal less what was allocated
    principal_allocated = sum((r.amount for r in rows if r.component == "principal"), D("0"))
    total = sum((D(b["amount"]) for _k, _i, b in sent), D("0"))
    assert sum((r.amount for r in rows), D("0")) == total
    assert loan.outstanding_principal == principal - principal_allocated
    assert loan.outstanding_principal == sum((i.principal - i.principal_paid
                                              for i in installments), D("0"))
    # and the stored allocation is the one a replay of the payments in date order gives
    replayed = services.replay(loan)[loan.schedule_version][1]
    assert sorted((a.payment_key, a.line_key, a.component, a.amount) for a in replayed) == \
        sorted((r.repayment_id, r.installment_id, r.component, r.amount) for r in rows)
    # each committed posting took its turn on the loan exactly once
    # (approval and disbursement took theirs before: two)
    assert loan.lock_version == len(sent) + 2
    assert loan.last_paid_on == max(r.paid_on for r in repayments)


def test_disbursing_a_loan_someone_has_just_disbursed_is_refused(app, create_loan,
                                                                 create_user):
    from shg.accounts.models import User
    loan = create_loan(status="approved", disbursed_on=date(2024, 1, 10))
    officer = create_user("admin")
    db.session.commit()
    loan_id, officer_id = loan.id, officer.id
    mine = db.session.get(Loan, loan_id)
    assert mine.status == "approved"  # read by the second officer's request …
    with app.app_context():  # … while the first officer's request disburses and commits
        services.disburse_loan(db.session.get(Loan, loan_id), date(2024, 1, 10),
                               by=db.session.get(User, officer_id))
        db.session.commit()
    with pytest.raises(Invalid):
        services.disburse_loan(mine, date(2024, 1, 10), by=officer)
