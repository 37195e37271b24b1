"""Wires adapters to services from settings. Tests pass fakes in; nothing is built until used."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coach.features.programme import IndexedWrites
from coach.ingest.ingest import Ingestor, SourceNames
from coach.ingest.jobs import IngestJobs, IngestRunner
from coach.ports import Embedder, VectorIndex
from coach.retrieval.hybrid import HybridRetriever
from coach.retrieval.pair_index import PairIndexer
from coach.settings import Settings
from coach.store.credentials import TokenService
from coach.store.db import Database
from coach.store.documents import DocumentManifest
from coach.store.ingest_jobs import IngestJobStore
from coach.store.repository import Store

if TYPE_CHECKING:  # built on demand: the features load the reader and the models
    from coach.features.pair_features import PairFeatures

log = logging.getLogger(__name__)


class Container:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 index: VectorIndex | None = None, chat_model: Any | None = None):
        self.settings = settings
        self._embedder = embedder
        self._index = index
        self._chat_model = chat_model
        self._models: dict[str, Any] = {}
        self._features: dict[tuple[str, str, str], PairFeatures] = {}

    @cached_property
    def db(self) -> Database:
        if self.settings.resolved_database_url.startswith("sqlite"):
            self.settings.ensure_data_dir()
        return Database(self.settings.resolved_database_url)

    @cached_property
    def store(self) -> Store:
        return Store(self.db)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from coach.adapters.embeddings import make_embedder

            self._embedder = make_embedder(self.settings.embedding_model_path,
                                           self.settings.embedding_precision)
        return self._embedder

    @property
    def index(self) -> VectorIndex:
        if self._index is None:
            from coach.adapters.chroma_index import ChromaIndex

            self._index = ChromaIndex(
                self.embedder, self.settings.resolved_vector_store, self.settings.collection
            )
        return self._index

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.index, self.embedder)

    @cached_property
    def tokens(self) -> TokenService:
        """Access tokens and sign-in sessions (the API's and the CLI's)."""
        return TokenService(self.db, session_hours=self.settings.session_hours)

    @cached_property
    def manifest(self) -> DocumentManifest:
        return DocumentManifest(self.db)

    @cached_property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.index, self.manifest, self.settings.knowledge_dir,
                        self.settings.uploads_dir,
                        seconds_per_file=self.settings.ingest_seconds_per_file)

    @cached_property
    def source_names(self) -> SourceNames:
        return SourceNames(self.settings.knowledge_dir, self.settings.uploads_dir)

    @cached_property
    def ingest_jobs(self) -> IngestJobs:
        return IngestJobs(IngestJobStore(self.db), self.settings.uploads_dir,
                          self.settings.max_upload_bytes, on_submit=self._wake_ingest_runner)

    @cached_property
    def ingest_runner(self) -> IngestRunner:
        """The background ingestion of this process; the app starts it. The ingestor (and with it
        the embedding model) is built when the first job runs, not before."""
        return IngestRunner(self.ingest_jobs.store, lambda: self.ingestor,
                            self.settings.knowledge_dir, self.settings.uploads_dir)

    def _wake_ingest_runner(self) -> None:
        if "ingest_runner" in self.__dict__:
            self.ingest_runner.wake()

    @cached_property
    def writes(self) -> IndexedWrites:
        """The writes that keep the pair index in step with the store."""
        return IndexedWrites(self.store, PairIndexer(self.index))

    @cached_property
    def catalogue(self):
        from coach.features.catalogue import TopicCatalogue

        return TopicCatalogue(self.index)

    @cached_property
    def prompts(self):
        from coach.generation.prompts import PromptLibrary

        return PromptLibrary()

    @cached_property
    def monitor(self):
        from coach.health.monitoring import CoordinatorGuide, Monitor

        return Monitor(self.db, self.store, CoordinatorGuide(self.index))

    def chat_model(self, backend: str | None = None):
        """The model for ``backend`` (default from settings); None means the composer alone."""
        from coach.adapters.chat_models import make_chat_model

        backend = backend or self.settings.llm_backend
        if backend not in self._models:
            if self._chat_model is not None and backend == self.settings.llm_backend:
                self._models[backend] = self._chat_model
            else:
                self._models[backend] = make_chat_model(self.settings, backend)
        return self._models[backend]

    @cached_property
    def reader(self):
        """The reflection reader, over its own fine-tuned MiniLM (coach.reader.language), not
        the retrieval embedder."""
        from coach.adapters.encoder_training import read_stamp
        from coach.reader.features import FEATURE_WIDTH
        from coach.reader.language import ENCODER
        from coach.reader.model import LabelModel
        from coach.reader.reader import Reader

        path = self.settings.resolved_reader_model
        model = LabelModel.load(path) if path else None
        if model is not None and not (model.reads_current_features(FEATURE_WIDTH) and
                                      model.meta.get("encoder") == read_stamp(ENCODER)):
            # a programme's own model from an older release reads other features or another
            # MiniLM's vectors; the corrections it learned from are still in the store
            log.warning("%s was trained on an older reader's features, so the shipped reader "
                        "model is used. Run `coach reader retrain` to fold the programme's "
                        "corrections in again.", path)
            model = None
        return Reader(model)

    def features(self, backend: str | None = None) -> PairFeatures:
        """The agenda, topics, reflection summaries and chat over ``backend``'s chat model
        (default from settings; "none" for the composers alone)."""
        from coach.features.pair_features import PairFeatures

        backend = backend or self.settings.llm_backend
        mode, chat_mode = self.settings.summary_mode, self.settings.chat_mode
        key = (backend, mode, chat_mode)  # built once per backend and the modes set for it
        if key not in self._features:
            self._features[key] = PairFeatures(
                self.store, self.writes, self.retriever, self.catalogue, self.prompts,
                self.reader, self.chat_model(backend), backend, None if mode == "auto" else mode,
                self.topic_relevance, chat_mode=None if chat_mode == "auto" else chat_mode)
        return self._features[key]

    @cached_property
    def topic_relevance(self):
        """The fitted topic relevance model beside this embedder (None beside another one):
        loaded once, its topic vectors computed once per catalogue."""
        from coach.features.topic_relevance import TopicRelevance

        return TopicRelevance.for_embedder(self.embedder)

    def scratch(self, data_dir: Path) -> Container:
        """A throwaway container in ``data_dir`` that shares this one's models."""
        settings = self.settings.model_copy(
            update={"data_dir": data_dir, "database_url": None, "vector_store": None}
        )
        fresh = getattr(self._index, "fresh", None)
        scratch = Container(settings, embedder=self.embedder, index=fresh() if fresh else None,
                            chat_model=self._chat_model)
        scratch.__dict__["reader"] = self.reader  # the same models, loaded once
        scratch.__dict__["topic_relevance"] = self.topic_relevance
        return scratch

    @contextmanager
    def scratch_store(self, sources: Sequence[Path] | None = None, *, data_dir: Path | None = None,
                      prefix: str = "coach-scratch-") -> Iterator[Container]:
        """A throwaway, migrated store and index in a temporary folder, sharing this container's
        models, with ``sources`` ingested (default: the knowledge folder; ``()`` for none).
        Closed and removed afterwards: evals, bench and calibration never touch user data. With
        ``data_dir`` it lives there instead, and the folder stays for whoever made it."""
        folder = nullcontext(str(data_dir)) if data_dir else tempfile.TemporaryDirectory(prefix=prefix)
        with folder as tmp:
            scratch = self.scratch(Path(tmp))
            try:
                scratch.db.migrate()
                paths = [scratch.settings.knowledge_dir] if sources is None else list(sources)
                if paths:
                    scratch.ingestor.ingest(paths)
                yield scratch
            finally:
                scratch.close()

    def warm_up(self) -> float:
        """Load what the first requests would otherwise wait for (the embedding model, the index
        and its keyword snapshot, the catalogue and its topic vectors, the chat model); returns
        the seconds taken."""
        import time

        started = time.perf_counter()
        self.store.list_programmes()
        self.retriever.search("how to start a reverse-mentoring session", 3)
        topics = list(self.catalogue.all().values())
        if self.topic_relevance is not None:
            self.topic_relevance.prepare(topics)
        self.monitor.guide.guidance()
        model = self.chat_model()
        if model is not None:
            model.load()
        return time.perf_counter() - started

    def close(self) -> None:
        if "ingest_runner" in self.__dict__:
            self.ingest_runner.stop()
        if "db" in self.__dict__:
            self.db.dispose()
