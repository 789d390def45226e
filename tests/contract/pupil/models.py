"""Strict models of the Pupil Cloud v2 wire contract (shared/contracts/pupil.md, section 4).

Every model is strict (a number where a string belongs fails, "true" is not a boolean) and
validated from the raw JSON text. Where the contract is closed, unknown keys are forbidden: the
only keys allowed beyond the contract's are the Roster additions named here (`is_owner`,
`status`, `user`), so anything else the server starts sending fails the suite.
"""

from __future__ import annotations

from typing import Generic, Literal, Optional, TypeVar
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

Role = Literal["VIEWER", "ADMIN", "EDITOR", "DEMO"]
WorldVideoMode = Literal["NORMAL", "NOUPLOAD", "BLUR"]
InvitationStatus = Literal["pending", "accepted", "declined", "revoked", "expired"]


class Closed(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


T = TypeVar("T")


class Envelope(Closed, Generic[T]):
    """Section 1.1: exactly code, status, result."""

    code: StrictInt
    status: Literal["success"]
    result: T


class FieldError(Closed):
    field: StrictStr
    code: StrictStr
    message: StrictStr


class ErrorResult(Closed):
    error: StrictStr
    message: StrictStr
    fields: Optional[list[FieldError]] = None


class ErrorEnvelope(Closed):
    code: StrictInt
    status: Literal["error"]
    result: ErrorResult


class WorkspaceResponse(Closed):
    """Section 4.2."""

    id: UUID
    name: StrictStr
    created_at: Optional[AwareDatetime] = None
    created_by_user_id: Optional[UUID] = None
    updated_at: Optional[AwareDatetime] = None
    deleted_at: Optional[AwareDatetime] = None
    deleted_by_user_id: Optional[UUID] = None
    picture_url: Optional[StrictStr] = None
    world_video_mode: Optional[WorldVideoMode] = None
    default_template_id: Optional[StrictStr] = None
    plan_id: Optional[StrictStr] = None
    status: Optional[StrictStr] = None
    alpha_features: Optional[StrictBool] = None
    raw_file_downloads: Optional[StrictBool] = None


class WorkspaceInvitation(Closed):
    """Section 4.5, plus Roster's `is_owner` and `status`."""

    email: StrictStr
    role: Role
    workspace_id: UUID
    id: Optional[UUID] = None
    token: Optional[StrictStr] = None
    created_at: Optional[AwareDatetime] = None
    expires_at: Optional[AwareDatetime] = None
    created_by_user_id: Optional[UUID] = None
    is_owner: StrictBool
    status: InvitationStatus


class User(Closed):
    """Section 4.10 (the v1 shape; every key optional)."""

    id: Optional[UUID] = None
    email: Optional[StrictStr] = None
    email_verified: Optional[StrictBool] = None
    name: Optional[StrictStr] = None
    photo_url: Optional[StrictStr] = None
    provider: Optional[StrictStr] = None
    uid: Optional[StrictStr] = None
    default_template_id: Optional[StrictStr] = None


class WorkspaceMember(Closed):
    """Section 4.7, plus Roster's `is_owner`: an owner has no `role`, everyone else has one."""

    user_id: UUID
    workspace_id: UUID
    role: Optional[Role] = None
    is_owner: StrictBool
    user: User
    created_at: Optional[AwareDatetime] = None
    updated_at: Optional[AwareDatetime] = None

    @model_validator(mode="after")
    def owner_rule(self) -> "WorkspaceMember":
        if self.is_owner and self.role is not None:
            raise ValueError("an owner's row must carry no role")
        if not self.is_owner and self.role is None:
            raise ValueError("a non-owner's row must carry a role")
        return self


class WorkspaceMembership(Closed):
    """Section 4.11 is undefined; this is Roster's shape."""

    workspace_id: UUID
    role: Optional[Role] = None
    is_owner: StrictBool
    workspace: WorkspaceResponse


class Profile(Closed):
    """Section 4.12."""

    id: Optional[StrictStr] = None
    email: Optional[StrictStr] = None
    email_verified: Optional[StrictBool] = None
    name: Optional[StrictStr] = None
    photo_url: Optional[StrictStr] = None
    provider: Optional[StrictStr] = None
    uid: Optional[StrictStr] = None
    default_workspace_id: Optional[UUID] = None
    onboarded_at: Optional[AwareDatetime] = None
    product_updates_subscribed: Optional[StrictBool] = None
    user_workspaces: Optional[list[WorkspaceMembership]] = None


class Token(Closed):
    """Section 4.15."""

    id: Optional[StrictStr] = None
    token: Optional[StrictStr] = None
    created_at: Optional[AwareDatetime] = None
    last_used_at: Optional[AwareDatetime] = None


class Nothing(Closed):
    """`result: null` of the void operations."""
