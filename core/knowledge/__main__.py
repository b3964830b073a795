"""`python -m core.knowledge`: check, load and edit the knowledge base.

  check                      validate data/knowledge (every problem, not only the first)
  sync                       load data/knowledge into the database (new and changed seed
                             entries are published; the support team's edits are kept)
  list                       one line per entry
  show ID [--revision N]     an entry's content as YAML
  history ID                 its revisions
  edit ID --file F.yml       save F (one entry, YAML) as a new draft revision
  publish ID [--revision N]  answer with that revision (default: the latest)
  rollback ID                answer with the revision published before
  retire ID                  stop answering the entry

Publishing bumps the knowledge version: every running assistant answers the new content
within a few seconds, without retraining or a restart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db.session import get_engine
from core.knowledge import store
from core.knowledge.entries import DEFAULT_DIRECTORY, KnowledgeError, load_directory, parse_entry
from core.privacy import mask_url


def _print_problems(error: KnowledgeError) -> int:
    print(f"{len(error.problems)} problem(s):", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.knowledge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="database URL (default: MERCHANT_DB_URL)")
    parser.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
    parser.add_argument("--author", default="cli", help="who makes the change (an agent's username)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check")
    sub.add_parser("sync")
    sub.add_parser("list")
    for name in ("show", "history", "rollback", "retire"):
        command = sub.add_parser(name)
        command.add_argument("entry_id")
        if name == "show":
            command.add_argument("--revision", type=int)
    edit = sub.add_parser("edit")
    edit.add_argument("entry_id")
    edit.add_argument("--file", type=Path, required=True)
    edit.add_argument("--note", default=None)
    publish = sub.add_parser("publish")
    publish.add_argument("entry_id")
    publish.add_argument("--revision", type=int)
    args = parser.parse_args(argv)

    try:
        if args.command == "check":
            entries = load_directory(args.directory)
            print(f"{len(entries)} entries, "
                  f"{sum(len(e.similar) for e in entries)} similar questions: ok")
            return 0
        with Session(get_engine(args.url)) as session, session.begin():
            return _run(args, session)
    except KnowledgeError as error:
        return _print_problems(error)
    except SQLAlchemyError as error:
        print(f"the database could not be used ({type(error).__name__}); nothing changed. "
              f"Is it migrated (python -m core.db init)? {mask_url(str(args.url or ''))}",
              file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, session: Session) -> int:
    if args.command == "sync":
        report = store.sync(session, load_directory(args.directory))
        print(f"knowledge: {len(report.added)} added, {len(report.updated)} updated, "
              f"{len(report.unchanged)} unchanged, {len(report.retired)} retired, "
              f"{len(report.kept_edits)} kept as edited by the team"
              + (f" ({', '.join(report.kept_edits)})" if report.kept_edits else ""))
    elif args.command == "list":
        for line in store.summary(session):
            state = f"v{line['published']}" if line["published"] else "not answered"
            print(f"{line['id']:<36} {state:<13} {line['question']}")
    elif args.command == "show":
        revisions = store.history(session, args.entry_id)
        chosen = [r for r in revisions if (r.number == args.revision if args.revision
                                           else r.status == store.Status.published)]
        if not chosen:
            raise KnowledgeError([f"entry {args.entry_id}: no such revision"])
        entry = store.entry_of(chosen[-1])
        print(yaml.safe_dump({"id": entry.id, **entry.content()}, allow_unicode=True,
                             sort_keys=False), end="")
    elif args.command == "history":
        for revision in store.history(session, args.entry_id):
            print(f"v{revision.number:<4} {revision.status.value:<11} {revision.author:<12} "
                  f"{revision.created_at:%Y-%m-%d %H:%M}  {revision.note or ''}")
    elif args.command == "edit":
        data = yaml.safe_load(args.file.read_text(encoding="utf-8")) or {}
        entry = parse_entry({**data, "id": args.entry_id}, where=str(args.file))
        revision = store.save_draft(session, entry, args.author, args.note)
        print(f"{entry.id}: draft v{revision.number} saved; "
              f"answer with it: python -m core.knowledge publish {entry.id}")
    elif args.command == "publish":
        revision = store.publish(session, args.entry_id, args.revision, args.author)
        print(f"{args.entry_id}: v{revision.number} published "
              f"(knowledge version {store.version(session)})")
    elif args.command == "rollback":
        revision = store.rollback(session, args.entry_id, args.author)
        print(f"{args.entry_id}: back to v{revision.number}")
    elif args.command == "retire":
        store.retire(session, args.entry_id)
        print(f"{args.entry_id}: no longer answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
