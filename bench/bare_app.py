"""The bare FastAPI app `make bench` measures the rendered project against.

Each route does the work of the project's route it stands beside, the way a short hand-written
service would do it: the same token check, the same rate-limit hit, the same query, and the
simplest cache (one GET; one SET after a miss). What it leaves out is the project's structure:
middleware, request ids, access log, metrics, settings object, error envelope, cache versions.

    GET /health/live        {"status": "ok"}
    GET /items/{item_id}    token, rate-limit hit, cache GET, the ORM read, cache SET
    GET /limited            rate-limit hit (no token: counted by client address)

Every /api route of the everything-on project is rate limited and its item read is cached, so
an uncached read there is a cache miss: the bare app's is too (its ids are never repeated).

It reads the same environment as the project: DATABASE_URL, REDIS_URL, SECRET_KEY, JWT_ISSUER,
JWT_AUDIENCE, DB_POOL_SIZE, DB_MAX_OVERFLOW, RATE_LIMIT_DEFAULT, CACHE_TTL_SECONDS, and
BARE_PREFIX for its Redis keys.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import jwt
import limits
from fastapi import Depends, FastAPI, Header, HTTPException
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SECRET_KEY = os.environ["SECRET_KEY"]
ISSUER = os.environ["JWT_ISSUER"]
AUDIENCE = os.environ["JWT_AUDIENCE"]
PREFIX = os.environ.get("BARE_PREFIX", "bare:")


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    owner_id: int
    created_at: datetime
    updated_at: datetime


engine = create_async_engine(
    os.environ["DATABASE_URL"],
    pool_pre_ping=True,
    pool_size=int(os.environ.get("DB_POOL_SIZE", "20")),
    max_overflow=int(os.environ.get("DB_MAX_OVERFLOW", "0")),
)
sessions = async_sessionmaker(engine, expire_on_commit=False)
redis = Redis.from_url(os.environ["REDIS_URL"])
limiter = MovingWindowRateLimiter(
    RedisStorage(
        f"async+{os.environ['REDIS_URL']}",
        implementation="redispy",
        key_prefix=f"{PREFIX}limits",
    )
)
LIMIT = limits.parse(os.environ.get("RATE_LIMIT_DEFAULT", "1000000/minute"))
TTL = int(os.environ.get("CACHE_TTL_SECONDS", "60"))


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await redis.aclose()
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def subject(authorization: Annotated[str, Header()] = "") -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "iss", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        raise HTTPException(401) from exc
    return str(claims["sub"])


async def session() -> AsyncIterator[AsyncSession]:
    async with sessions() as db:
        yield db


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


async def hit(key: str) -> None:
    if not await limiter.hit(LIMIT, "default", key):
        raise HTTPException(429)


@app.get("/items/{item_id}")
async def read_item(
    item_id: int,
    user: Annotated[str, Depends(subject)],
    db: Annotated[AsyncSession, Depends(session, scope="function")],
) -> ItemRead:
    await hit(f"user:{user}")
    key = f"{PREFIX}item:{item_id}:user:{user}"
    raw = await redis.get(key)
    if raw is not None:
        return ItemRead.model_validate_json(raw)
    item = await db.get(Item, item_id)
    if item is None:
        raise HTTPException(404)
    result = ItemRead.model_validate(item)
    await redis.set(key, result.model_dump_json(), ex=TTL)
    return result


@app.get("/limited")
async def limited() -> dict[str, str]:
    await hit("client:127.0.0.1")
    return {"status": "ok"}
