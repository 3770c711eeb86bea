"""Every mapped table, imported once so that metadata (Alembic, tests) sees them all."""

from verenigingen.auth.models import ApiToken, PasswordReset, User, WebSession
from verenigingen.bank.models import BankAccount, BankStatement, BankStatementLine
from verenigingen.billing.models import AuditEvent, Invoice, InvoiceLine, Payment, PaymentAllocation
from verenigingen.cache.models import CacheTag
from verenigingen.db.base import Base
from verenigingen.db.idempotency import IdempotencyRecord
from verenigingen.db.installation import Installation
from verenigingen.db.naming import NamingSeries
from verenigingen.dues.models import DuesSchedule
from verenigingen.history.models import MemberFinancialSummary, PaymentAnalytics
from verenigingen.indexes.models import IndexChange
from verenigingen.jobs.models import Job, Notification
from verenigingen.mail.models import OutboxMail
from verenigingen.members.models import Customer, Member, Membership, MembershipType
from verenigingen.safety.models import SafetyRollbackStep, SafetyRun
from verenigingen.sepa.models import (
    DirectDebitBatch,
    DirectDebitEntry,
    SepaCreditor,
    SepaMandate,
    SepaMandateUsage,
    SepaReturn,
    StatusReport,
)
from verenigingen.settings.models import RuntimeSetting, RuntimeSettingChange

__all__ = [
    "ApiToken",
    "AuditEvent",
    "BankAccount",
    "BankStatement",
    "BankStatementLine",
    "Base",
    "CacheTag",
    "Customer",
    "DirectDebitBatch",
    "DirectDebitEntry",
    "DuesSchedule",
    "IdempotencyRecord",
    "IndexChange",
    "Installation",
    "Invoice",
    "InvoiceLine",
    "Job",
    "Member",
    "MemberFinancialSummary",
    "Membership",
    "MembershipType",
    "NamingSeries",
    "Notification",
    "OutboxMail",
    "PasswordReset",
    "Payment",
    "PaymentAllocation",
    "PaymentAnalytics",
    "RuntimeSetting",
    "RuntimeSettingChange",
    "SafetyRollbackStep",
    "SafetyRun",
    "SepaCreditor",
    "SepaMandate",
    "SepaMandateUsage",
    "SepaReturn",
    "StatusReport",
    "User",
    "WebSession",
]
