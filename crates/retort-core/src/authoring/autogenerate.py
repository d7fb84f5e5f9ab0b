# Retort's autogenerate driver: alembic's own `revision --autogenerate`, with a review step.
#
# Run by Retort with the project's Python in the project's folder (python -c, stdin closed).
# The URL comes from the environment (RETORT_DATABASE_URL), never argv or a file; the request
# is RETORT_AUTOGENERATE (JSON): the revision command's arguments, "mode" ("list": report the
# operations and write nothing; "write": keep the operations numbered in "keep", which must
# still be the ones in "expected", and let alembic write the file).
#
# Output: JSON lines behind RETORT_MARKER on stdout; everything else is the project's own.
import json, os, sys, traceback

_MARK = "\x1e" + os.environ.pop("RETORT_MARKER", "RETORT")
_URL = os.environ.pop("RETORT_DATABASE_URL", "")
_REQUEST = json.loads(os.environ.pop("RETORT_AUTOGENERATE", "{}"))
_INI, _TOML = sys.argv[1:3]
if sys.path and sys.path[0] == "":
    del sys.path[0]
_OUT = sys.stdout


def _emit(**event):
    _OUT.write(_MARK + " " + json.dumps(event) + "\n")
    _OUT.flush()


try:
    import alembic
    import alembic.command
    import alembic.config
    import alembic.util
    from alembic.operations import ops as O
except ImportError as e:
    _emit(missing=getattr(e, "name", None) or "", error="%s: %s" % (type(e).__name__, e))
    sys.exit(3)


# ----- what each operation is, as the review lists it ------------------------------------

def _type(t, dialect):
    if t is None:
        return "?"
    try:
        return t.compile(dialect=dialect)
    except Exception:
        return repr(t)


def _default(d):
    if d is None or d is False:
        return None
    arg = getattr(d, "arg", d)
    if isinstance(arg, str):
        return "'%s'" % arg.replace("'", "''")
    text = getattr(arg, "text", None)
    return text if isinstance(text, str) else str(arg)


def _column(c, dialect):
    text = "%s %s" % (c.name, _type(c.type, dialect))
    if c.nullable is False and not c.primary_key:
        text += " NOT NULL"
    default = _default(c.server_default)
    if default is not None:
        text += " DEFAULT %s" % default
    return text


def _cols(cols):
    return ", ".join(getattr(c, "name", str(c)) for c in cols)


def _qualified(schema, table):
    return "%s.%s" % (schema, table) if schema else str(table)


_INT_SIZES = {"SMALLINT": 2, "SMALLINTEGER": 2, "INTEGER": 4, "INT": 4, "BIGINT": 8, "BIGINTEGER": 8}


def _narrowing(old, new):
    # Whether `new` can hold fewer values than `old` (a length, a precision, a smaller integer,
    # text to a bounded string).
    if old is None or new is None:
        return False
    o, n = type(old).__name__.upper(), type(new).__name__.upper()
    ol, nl = getattr(old, "length", None), getattr(new, "length", None)
    if nl is not None and (ol is None or nl < ol):
        return True
    op_, np_ = getattr(old, "precision", None), getattr(new, "precision", None)
    if isinstance(op_, int) and isinstance(np_, int) and np_ < op_:
        return True
    os_, ns_ = getattr(old, "scale", None), getattr(new, "scale", None)
    if isinstance(os_, int) and isinstance(ns_, int) and ns_ < os_:
        return True
    if o in _INT_SIZES and n in _INT_SIZES and _INT_SIZES[n] < _INT_SIZES[o]:
        return True
    return False


def _describe(op, table, schema, dialect, created):
    # (kind, table, text, risks)
    name = type(op).__name__
    risks = []
    if isinstance(op, O.CreateTableOp):
        t = _qualified(op.schema, op.table_name)
        cols = [c for c in op.columns if hasattr(c, "type")]
        return "create_table", t, "create table %s (%s)" % (t, ", ".join(_column(c, dialect) for c in cols)), risks
    if isinstance(op, O.DropTableOp):
        t = _qualified(op.schema, op.table_name)
        risks.append("loses data: every row of %s" % t)
        return "drop_table", t, "drop table %s" % t, risks
    t = _qualified(schema, table) if table else _qualified(getattr(op, "schema", None), getattr(op, "table_name", "?"))
    new_table = t in created
    if isinstance(op, O.AddColumnOp):
        c = op.column
        if c.nullable is False and c.server_default is None and not new_table:
            risks.append("fails if %s has rows: NOT NULL without a server default" % t)
        return "add_column", t, "add column %s.%s" % (t, _column(c, dialect)), risks
    if isinstance(op, O.DropColumnOp):
        risks.append("loses data: the column's values")
        c = op.to_column() if hasattr(op, "to_column") else None
        what = _column(c, dialect) if c is not None and getattr(c, "type", None) is not None else op.column_name
        return "drop_column", t, "drop column %s.%s" % (t, what), risks
    if isinstance(op, O.AlterColumnOp):
        changes = []
        kw = op.kw
        if op.modify_type is not None:
            old = op.existing_type
            changes.append("type %s → %s" % (_type(old, dialect), _type(op.modify_type, dialect)))
            if _narrowing(old, op.modify_type):
                risks.append("may lose data or fail: the new type is narrower")
            else:
                risks.append("converts every value (the table may be rewritten and locked)")
        if op.modify_nullable is not None:
            changes.append("NULL → NOT NULL" if op.modify_nullable is False else "NOT NULL → NULL")
            if op.modify_nullable is False:
                risks.append("fails if a row has NULL in %s" % op.column_name)
        if op.modify_server_default is not False:
            changes.append("server default %s → %s" % (_default(op.existing_server_default) or "none", _default(op.modify_server_default) or "none"))
        if op.modify_comment is not False:
            changes.append("comment %r → %r" % (op.existing_comment, op.modify_comment))
        if op.modify_name is not None:
            changes.append("renamed to %s" % op.modify_name)
        return "alter_column", t, "alter column %s.%s: %s" % (t, op.column_name, ", ".join(changes) or "no change"), risks
    if isinstance(op, O.CreateIndexOp):
        unique = "unique " if op.unique else ""
        if not new_table:
            risks.append("locks writes to %s while it builds" % t)
        cols = ", ".join(str(getattr(c, "name", c)) for c in op.columns)
        return "create_index", t, "create %sindex %s on %s (%s)" % (unique, op.index_name, t, cols), risks
    if isinstance(op, O.DropIndexOp):
        return "drop_index", t, "drop index %s on %s" % (op.index_name, t), risks
    if isinstance(op, O.CreateUniqueConstraintOp):
        if not new_table:
            risks.append("fails if %s has duplicates" % t)
        return "add_unique", t, "add unique constraint %s on %s (%s)" % (op.constraint_name, t, _cols(op.columns)), risks
    if isinstance(op, O.CreateForeignKeyOp):
        if not new_table:
            risks.append("checks every row of %s (and locks it)" % t)
        return "add_foreign_key", t, "add foreign key %s on %s (%s) → %s (%s)" % (
            op.constraint_name, t, _cols(op.local_cols), _qualified(op.referent_schema, op.referent_table), _cols(op.remote_cols)), risks
    if isinstance(op, O.CreateCheckConstraintOp):
        if not new_table:
            risks.append("fails if a row of %s breaks it" % t)
        return "add_check", t, "add check constraint %s on %s: %s" % (op.constraint_name, t, op.condition), risks
    if isinstance(op, O.CreatePrimaryKeyOp):
        return "add_primary_key", t, "add primary key %s on %s (%s)" % (op.constraint_name, t, _cols(op.columns)), risks
    if isinstance(op, O.DropConstraintOp):
        return "drop_constraint", t, "drop %s constraint %s on %s" % (op.constraint_type or "", op.constraint_name, t), risks
    if isinstance(op, O.CreateTableCommentOp):
        return "table_comment", t, "comment on table %s: %r" % (t, op.comment), risks
    if isinstance(op, O.DropTableCommentOp):
        return "table_comment", t, "drop the comment on table %s" % t, risks
    return name, t, "%s on %s" % (name, t), risks


def _flatten(upgrade_ops):
    # Top-level operations, and each operation inside a ModifyTableOps: what the review lists.
    out = []
    for op in upgrade_ops.ops:
        if isinstance(op, O.ModifyTableOps):
            out.extend((sub, op.table_name, op.schema) for sub in op.ops)
        else:
            out.append((op, None, None))
    return out


def _listed(script, dialect):
    items = []
    for ops in script.upgrade_ops_list:
        created = set()
        for op, table, schema in _flatten(ops):
            kind, t, text, risks = _describe(op, table, schema, dialect, created)
            if kind == "create_table":
                created.add(t)
            items.append({"kind": kind, "table": t, "text": text, "risks": risks})
    return items


def _keep_only(script, keep):
    # The kept operations, in their order; the downgrade is their reverse, as alembic makes it.
    n = 0
    for k, ops in enumerate(script.upgrade_ops_list):
        kept = []
        for op in ops.ops:
            if isinstance(op, O.ModifyTableOps):
                subs = []
                for sub in op.ops:
                    if n in keep:
                        subs.append(sub)
                    n += 1
                if subs:
                    op.ops = subs
                    kept.append(op)
            else:
                if n in keep:
                    kept.append(op)
                n += 1
        ops.ops = kept
        ops.reverse_into(script.downgrade_ops_list[k])


_SEEN = {}


def _hook(context, revision, directives):
    if not directives:
        return
    script = directives[0]
    dialect = getattr(context, "dialect", None)
    items = _listed(script, dialect)
    _SEEN["items"] = items
    mode = _REQUEST.get("mode")
    if mode in ("write", "preview"):
        expected = _REQUEST.get("expected")
        if expected is not None and [i["text"] for i in items] != expected:
            _emit(changed=[i["text"] for i in items])
            directives[:] = []
            return
        _keep_only(script, set(_REQUEST.get("keep") or []))
    if mode == "preview":
        # The bodies alembic renders for the kept operations; still nothing written.
        import textwrap

        batch = bool(getattr(context, "opts", {}).get("render_as_batch"))

        def render_python_code(ops, **kw):
            # alembic indents all lines but the first, for the template's function body.
            from alembic.autogenerate import render_python_code as render

            return textwrap.dedent("    " + render(ops, **kw))
        _SEEN["preview"] = {
            "upgrade": "\n".join(render_python_code(u, render_as_batch=batch) for u in script.upgrade_ops_list),
            "downgrade": "\n".join(render_python_code(d, render_as_batch=batch) for d in script.downgrade_ops_list),
        }
    if mode != "write":
        directives[:] = []


def _last_frame(e):
    libs = [os.path.dirname(alembic.__file__) + os.sep]
    try:
        import sqlalchemy

        libs.append(os.path.dirname(sqlalchemy.__file__) + os.sep)
    except Exception:
        pass
    frames = [
        f
        for f in traceback.extract_tb(e.__traceback__)
        if not f.filename.startswith("<") and not f.filename.startswith(tuple(libs))
    ]
    return frames[-1] if frames else None


os.environ["DATABASE_URL"] = _URL
config = alembic.config.Config(file_=_INI or None, toml_file=_TOML or None)
config.set_main_option("sqlalchemy.url", _URL.replace("%", "%%"))
args = _REQUEST.get("args") or {}
try:
    scripts = alembic.command.revision(
        config,
        message=args.get("message"),
        autogenerate=True,
        head=args.get("head") or "head",
        splice=bool(args.get("splice")),
        branch_label=args.get("branch_label"),
        version_path=args.get("version_path"),
        rev_id=args.get("rev_id"),
        depends_on=args.get("depends_on") or None,
        process_revision_directives=_hook,
    )
except BaseException as e:
    frame = _last_frame(e)
    command_error = isinstance(e, alembic.util.CommandError)
    if not command_error:
        traceback.print_exc()
    _emit(
        error="".join(traceback.format_exception_only(type(e), e)).strip() if not command_error else str(e),
        command_error=command_error,
        file=os.path.realpath(frame.filename) if frame else None,
        line=frame.lineno if frame else None,
    )
    sys.exit(1)
if not isinstance(scripts, list):
    scripts = [scripts]
_emit(
    operations=_SEEN.get("items"),
    preview=_SEEN.get("preview"),
    written=[{"revision": s.revision, "path": s.path} for s in scripts if s is not None],
)
