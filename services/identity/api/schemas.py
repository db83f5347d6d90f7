"""Request and response bodies of the identity API. No response carries a password or a
hash; a new API key's secret is in the one answer that issues it, and nowhere else."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)

from runtime.http.schemas import USERNAME_PATTERN, Code, Name
from runtime.settings import ApiKeyGrant

Username = Annotated[
    str,
    StringConstraints(pattern=USERNAME_PATTERN),
    Field(description="lower case, e.g. `cd.clerk`", examples=["cd.clerk.wang"]),
]


def _encodable(value: str) -> str:
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError: 422
    return value


Password = Annotated[
    str,
    StringConstraints(min_length=10, max_length=200, pattern=r"^[^\x00]+$"),
    AfterValidator(_encodable),
    Field(description="at least 10 characters, not containing the user name"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Scope(_Strict):
    """A role and the scope it needs (API.md): the branch of a branch role, the warehouse of
    a warehouse clerk, the dealer of a dealer, the region and its branches of a region
    manager; headquarters' roles have none."""

    def grant(self, name: str) -> ApiKeyGrant:
        return ApiKeyGrant(
            name=name,
            role=self.role,  # type: ignore[attr-defined]
            branch=getattr(self, "branch", None),
            warehouse=getattr(self, "warehouse", None),
            dealer=getattr(self, "dealer", None),
            region=getattr(self, "region", None),
            region_branches=frozenset(getattr(self, "branches", ())),
        )


class HeadquartersScope(_Scope):
    role: Literal["hq_admin", "hq_viewer", "credit_controller", "erp"]


class BranchScope(_Scope):
    role: Literal["branch_manager", "branch_clerk"]
    branch: Code = Field(examples=["CD"])


class WarehouseScope(_Scope):
    role: Literal["warehouse_clerk"]
    warehouse: Code = Field(examples=["WH-CD"])


class DealerScope(_Scope):
    role: Literal["dealer"]
    dealer: Code = Field(examples=["CD-001"])


class RegionScope(_Scope):
    role: Literal["region_manager"]
    region: Code = Field(examples=["SOUTHWEST"])
    branches: list[Code] = Field(
        min_length=1,
        max_length=200,
        description="the branches of the region the manager covers, each a registered branch "
        "of the region (404 `unknown_branch`, 409 `branch_not_in_region`)",
        examples=[["CD", "CQ"]],
    )


class _NewUser(_Strict):
    username: Username
    name: Name = Field(examples=["Wang Fang (Chengdu clerk)"])
    password: Password | None = Field(
        default=None, description="none for an integration that only uses API keys"
    )


class HeadquartersUserCreate(_NewUser, HeadquartersScope):
    pass


class BranchUserCreate(_NewUser, BranchScope):
    pass


class WarehouseUserCreate(_NewUser, WarehouseScope):
    pass


class DealerUserCreate(_NewUser, DealerScope):
    pass


class RegionUserCreate(_NewUser, RegionScope):
    pass


# The scope each role needs, as the tag of the shape that asks for it.
SCOPE_OF_ROLE = {
    **dict.fromkeys(("hq_admin", "hq_viewer", "credit_controller", "erp"), "headquarters"),
    **dict.fromkeys(("branch_manager", "branch_clerk"), "branch"),
    "warehouse_clerk": "warehouse",
    "dealer": "dealer",
    "region_manager": "region",
}


def _scope_of(value: object) -> str | None:
    role = value.get("role") if isinstance(value, dict) else getattr(value, "role", None)
    return SCOPE_OF_ROLE.get(role) if isinstance(role, str) else None


# One shape per kind of scope, chosen by ``role``, so that the document says which scope
# each role needs. A function tells them apart rather than a `discriminator` mapping: the
# mapping would name four roles to one shape, which OpenAPI tools misread (Schemathesis
# 4.32 keeps only the last role of each shape and calls a branch manager invalid).
_ROLE_ERROR = {
    "custom_error_type": "unknown_role",
    "custom_error_message": f"role must be one of {', '.join(SCOPE_OF_ROLE)}",
}
UserCreate = Annotated[
    Annotated[HeadquartersUserCreate, Tag("headquarters")]
    | Annotated[BranchUserCreate, Tag("branch")]
    | Annotated[WarehouseUserCreate, Tag("warehouse")]
    | Annotated[DealerUserCreate, Tag("dealer")]
    | Annotated[RegionUserCreate, Tag("region")],
    Discriminator(_scope_of, **_ROLE_ERROR),
]
RoleChange = Annotated[
    Annotated[HeadquartersScope, Tag("headquarters")]
    | Annotated[BranchScope, Tag("branch")]
    | Annotated[WarehouseScope, Tag("warehouse")]
    | Annotated[DealerScope, Tag("dealer")]
    | Annotated[RegionScope, Tag("region")],
    Discriminator(_scope_of, **_ROLE_ERROR),
]


class PasswordReset(_Strict):
    password: Password


class UserDisable(_Strict):
    reason: Name = Field(examples=["left the company"])


class UserEnable(_Strict):
    pass


class _Who(BaseModel):
    """A user as an answer names it: who, with which role and scope."""

    username: str
    name: str
    role: str
    branch: str | None
    warehouse: str | None
    dealer: str | None
    region: str | None = None
    region_branches: list[str] = Field(default_factory=list)


class UserRead(_Who):
    disabled: bool
    may_sign_in: bool
    created_at: str
    modified_at: str
    modified_by: str = Field(description="who made the last change")
    version: int
    position: str | None = None


class UserList(BaseModel):
    users: list[UserRead]


class UserChangeRead(BaseModel):
    """One change to a user: what, when, by whom; the role and scope it gave (created, role
    changed) or the reason (disabled)."""

    version: int
    change: Literal["created", "password_reset", "role_changed", "disabled", "enabled"]
    at: str
    by: str
    by_role: str | None = None
    role: str | None = None
    branch: str | None = None
    warehouse: str | None = None
    dealer: str | None = None
    reason: str | None = None


class UserHistory(BaseModel):
    username: str
    changes: list[UserChangeRead]


class ApiKeyCreate(_Strict):
    username: Username
    label: Name = Field(examples=["ERP nightly import"])


class ApiKeyRead(BaseModel):
    key_id: str
    username: str
    label: str
    revoked: bool
    issued_at: str
    issued_by: str
    position: str | None = None


class ApiKeyIssuedRead(ApiKeyRead):
    api_key: str | None = Field(
        default=None,
        description="`dk_<key_id>_<secret>`: shown in this answer only (a replay of the "
        "command names the key without it); only its hash is kept",
    )


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyRead]


class SessionCreate(_Strict):
    username: Annotated[
        str, StringConstraints(min_length=1, max_length=64), AfterValidator(_encodable)
    ] = Field(examples=["cd.clerk"])
    password: Annotated[
        str, StringConstraints(min_length=1, max_length=200), AfterValidator(_encodable)
    ]


class SessionRead(_Who):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name
    expires_at: str
