"""The migrations build exactly the schema the models describe, on both databases."""
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from shg.extensions import db
from shg.money import alembic_render_item
from tests import pg
from tests.conftest import make_app


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "migrated.sqlite")
    server = request.getfixturevalue("pg_server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required under CI")
        pytest.skip("PostgreSQL is not installed here")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return pg.create_database(server, f"shg_migrations_{worker}")


def _differences(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_item": alembic_render_item})
        return compare_metadata(context, db.metadata)


def test_migrations_produce_exactly_the_models_schema(empty_database):
    app = make_app(empty_database)
    with app.app_context():
        upgrade()
        assert _differences(app) == []
        assert "member" in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_migrations_downgrade_to_an_empty_database(empty_database):
    app = make_app(empty_database)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
