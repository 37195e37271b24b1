"""Setting a coach up: a new store with the knowledge base (and the demo programme, if asked),
or a store restored from an export. The CLI's `init` and `import` call these."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from coach.domain.errors import InvalidInput
from coach.operations.demo import demo_data, load_demo, summariser_for
from coach.store.dump import import_store

Progress = Callable[[str, int, int], None] | None


def initialise(container, *, demo: bool = False, programme: str = "Reverse mentoring programme",
               progress: Progress = None) -> dict[str, Any]:
    """Migrate the store, ingest the knowledge folder (pruning files that are gone), then load
    the demo programme once or create ``programme`` when there is none. Safe to run again."""
    started = time.perf_counter()
    settings = container.settings
    container.db.migrate()
    result: dict[str, Any] = {
        "data_dir": str(settings.data_dir.resolve()),
        "database": container.db.engine.url.render_as_string(hide_password=True)}
    if not settings.knowledge_dir.is_dir():
        raise InvalidInput(f"The knowledge folder {settings.knowledge_dir} does not exist. "
                           "Set COACH_KNOWLEDGE_DIR.")
    result["ingest"] = container.ingestor.ingest([settings.knowledge_dir], prune=True,
                                                 progress=progress).to_dict()
    store = container.store
    if demo:
        name = demo_data()["programme"]["name"]
        if any(p.name == name for p in store.list_programmes()):
            result["demo"] = {"programme": name, "status": "already loaded"}
        else:
            summarise = summariser_for(store, container.features("none"))
            result["demo"] = load_demo(store, container.writes, summarise=summarise).to_dict()
    elif not store.list_programmes():
        store.create_programme(programme)
    result["programmes"] = [p.name for p in store.list_programmes()]
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def restore(container, data: dict[str, Any]) -> dict[str, Any]:
    """Import an export (read by coach.operations.backup.read_export) into an empty store,
    then rebuild the index: the knowledge folder, and every pair's records."""
    container.db.migrate()
    counts = import_store(container.db, data)
    container.ingestor.ingest([container.settings.knowledge_dir], prune=True)
    return {"rows": counts, "pairs_reindexed": container.writes.reindex_all()}
