#!/usr/bin/env python3
"""Generate the same linear chain of SQL migrations twice: a native Retort SQL project and an Alembic project.

    python3 scripts/bench/generate_sql_project.py --out bench-out/execution [--revisions 1000] [--seed 1]

Writes
  DIR/sql/retort.toml and DIR/sql/versions/<rev>_<slug>.sql       (Retort's native format), and
  DIR/alembic/alembic.ini, DIR/alembic/migrations/env.py, script.py.mako and
  DIR/alembic/migrations/versions/<rev>_<slug>.py                  (alembic 1.20.1's generic template),
where revision i of both projects has the same id, parent and message, and runs the same SQL
statements in the same order: Retort from its `-- migrate:up` section, alembic through one
`op.execute("...")` per statement. Downgrades mirror each other too. Also
  DIR/plain/one_transaction.sql and DIR/plain/per_revision.sql: the same upgrade as plain scripts
  for the database's own client (psql, sqlite3), to measure what the database itself needs, and
  DIR/head: the head revision.

Each revision is a small, realistic migration that runs unchanged on SQLite and PostgreSQL:
it creates one table (an integer key, a few typed columns, a foreign key to the previous
revision's table), an index on it, and inserts three rows. The chain is linear: revision i's
down_revision is revision i-1. The same --revisions/--seed always give the same bytes.
env.py is alembic's standard online template (engine_from_config, NullPool,
context.configure(connection=...), begin_transaction, run_migrations), unedited.
"""
import argparse
import datetime
import random
import re
import shutil
from pathlib import Path

# alembic 1.20.1 templates/generic/alembic.ini, trimmed of its comments; sqlalchemy.url is set per run.
ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os
sqlalchemy.url = sqlite:///bench.db

[post_write_hooks]

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

# alembic 1.20.1 templates/generic/env.py, verbatim.
ENV_PY = '''\
from logging.config import fileConfig

from sqlalchemy import engine_from_config
from sqlalchemy import pool

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
target_metadata = None

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def run_migrations_offline() -> None:
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )

    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata
        )

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

# alembic 1.20.1 templates/generic/script.py.mako (for `alembic revision`; not used by the benchmark).
SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
'''

# A revision file as alembic's script.py.mako renders it, with the SQL through op.execute.
PY_TEMPLATE = '''\
"""{message}

Revision ID: {rev}
Revises: {revises}
Create Date: {create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
{upgrade}


def downgrade() -> None:
    """Downgrade schema."""
{downgrade}
'''

SQL_TEMPLATE = """\
-- revision: {rev}
-- down_revision: {revises}
-- message: {message}
-- create_date: {create_date}

-- migrate:up
{upgrade}

-- migrate:down
{downgrade}
"""

RETORT_TOML = """\
# Generated by scripts/bench/generate_sql_project.py; the benchmark passes --url.
versions = ["versions"]
"""

NOUNS = ["customer", "order", "invoice", "payment", "product", "shipment", "coupon", "tenant",
         "webhook", "report", "address", "session", "audit_event", "subscription", "refund", "vendor"]
# (name, SQL type, a literal for row k) - types and literals both SQLite and PostgreSQL accept.
COLUMNS = [
    ("name", "VARCHAR(120) NOT NULL", lambda r, k: "'%s %d'" % (r.choice(["alpha", "beta", "gamma", "delta"]), k)),
    ("email", "VARCHAR(255)", lambda r, k: "'user%d@example.com'" % r.randint(1, 99999)),
    ("amount", "NUMERIC(12, 2) NOT NULL DEFAULT 0", lambda r, k: "%d.%02d" % (r.randint(0, 9999), r.randint(0, 99))),
    ("quantity", "INTEGER", lambda r, k: str(r.randint(0, 500))),
    ("is_active", "BOOLEAN NOT NULL DEFAULT TRUE", lambda r, k: r.choice(["TRUE", "FALSE"])),
    ("created_on", "DATE", lambda r, k: "'2026-%02d-%02d'" % (r.randint(1, 12), r.randint(1, 28))),
    ("notes", "TEXT", lambda r, k: "'note %d'" % r.randint(1, 99999)),
]
ROWS = 3


def slugify(message, truncate=40):
    """alembic's ScriptDirectory._rev_path slug rule (default truncate_slug_length = 40)."""
    slug = "_".join(re.findall(r"\w+", message)).lower()
    if len(slug) > truncate:
        slug = slug[:truncate].rsplit("_", 1)[0] + "_"
    return slug


def generate(total, seed):
    """The chain: a list of dicts (rev, down, message, create_date, up, down_sql), parents first."""
    rng = random.Random(seed)
    date = datetime.datetime(2024, 1, 8, 9, 0, 0)
    ids, revs, prev_table = set(), [], None
    for i in range(total):
        while True:
            rev = "%012x" % rng.getrandbits(48)
            if rev not in ids:
                ids.add(rev)
                break
        date += datetime.timedelta(seconds=rng.randint(600, 200000))
        table = "%s_%04d" % (rng.choice(NOUNS), i)
        cols = sorted(rng.sample(range(len(COLUMNS)), rng.randint(2, 4)))
        if 0 not in cols:
            cols = [0] + cols[:3]  # every table has a name to index
        defs = ["    id INTEGER PRIMARY KEY"]
        defs += ["    %s %s" % (COLUMNS[c][0], COLUMNS[c][1]) for c in cols]
        names = ["id"] + [COLUMNS[c][0] for c in cols]
        if prev_table:
            defs.append("    parent_id INTEGER REFERENCES %s (id)" % prev_table)
            names.append("parent_id")
        rows = []
        for k in range(1, ROWS + 1):
            values = [str(k)] + [COLUMNS[c][2](rng, k) for c in cols]
            if prev_table:
                values.append(str(rng.randint(1, ROWS)))
            rows.append("    (%s)" % ", ".join(values))
        up = [
            "CREATE TABLE %s (\n%s\n)" % (table, ",\n".join(defs)),
            "CREATE INDEX ix_%s_name ON %s (name)" % (table, table),
            "INSERT INTO %s (%s) VALUES\n%s" % (table, ", ".join(names), ",\n".join(rows)),
        ]
        down = ["DROP INDEX ix_%s_name" % table, "DROP TABLE %s" % table]
        revs.append({"rev": rev, "down": revs[-1]["rev"] if revs else None,
                     "message": "create %s" % table, "create_date": str(date), "up": up, "down_sql": down})
        prev_table = table
    return revs


def py_body(statements):
    # One op.execute per statement, the SQL as a triple-quoted literal (the SQL has no quotes
    # of that kind, no backslashes, and no ':name' that text() would take for a parameter).
    return "\n".join('    op.execute(\n        """%s"""\n    )' % s for s in statements)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.revisions < 1:
        parser.error("--revisions must be at least 1")

    sql_dir, alembic_dir = args.out / "sql", args.out / "alembic"
    for d in (sql_dir, alembic_dir):
        if d.exists():
            shutil.rmtree(d)
    (sql_dir / "versions").mkdir(parents=True)
    (alembic_dir / "migrations" / "versions").mkdir(parents=True)
    (sql_dir / "retort.toml").write_text(RETORT_TOML)
    (alembic_dir / "alembic.ini").write_text(ALEMBIC_INI)
    (alembic_dir / "migrations" / "env.py").write_text(ENV_PY)
    (alembic_dir / "migrations" / "script.py.mako").write_text(SCRIPT_MAKO)

    revs = generate(args.revisions, args.seed)
    for r in revs:
        name = "%s_%s" % (r["rev"], slugify(r["message"]))
        (sql_dir / "versions" / (name + ".sql")).write_text(SQL_TEMPLATE.format(
            rev=r["rev"], revises=r["down"] or "", message=r["message"], create_date=r["create_date"],
            upgrade="\n".join(s + ";" for s in r["up"]), downgrade="\n".join(s + ";" for s in r["down_sql"])))
        (alembic_dir / "migrations" / "versions" / (name + ".py")).write_text(PY_TEMPLATE.format(
            rev=r["rev"], revises=r["down"] or "", down=r["down"], message=r["message"],
            create_date=r["create_date"], upgrade=py_body(r["up"]), downgrade=py_body(r["down_sql"])))
    # The same upgrade as plain SQL scripts for the database's own client (psql, sqlite3): what running
    # this SQL costs the server itself, in one transaction and in one transaction per revision.
    version_table = ("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                     "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));\n")
    ups = ["\n".join(s + ";" for s in r["up"]) for r in revs]
    (args.out / "plain").mkdir(exist_ok=True)
    (args.out / "plain" / "one_transaction.sql").write_text(
        version_table + "BEGIN;\n" + "\n".join(ups)
        + "\nINSERT INTO alembic_version (version_num) VALUES ('%s');\nCOMMIT;\n" % revs[-1]["rev"])
    per = [version_table]
    for r, up in zip(revs, ups):
        row = ("INSERT INTO alembic_version (version_num) VALUES ('%s');" % r["rev"] if r["down"] is None else
               "UPDATE alembic_version SET version_num='%s' WHERE version_num='%s';" % (r["rev"], r["down"]))
        per.append("BEGIN;\n%s\n%s\nCOMMIT;\n" % (up, row))
    (args.out / "plain" / "per_revision.sql").write_text("".join(per))
    (args.out / "head").write_text(revs[-1]["rev"] + "\n")
    print("wrote %d revisions (head %s, %d statements each way) to %s and %s"
          % (len(revs), revs[-1]["rev"], sum(len(r["up"]) for r in revs), sql_dir, alembic_dir))


if __name__ == "__main__":
    main()
