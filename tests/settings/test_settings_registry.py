"""The registry: every setting typed and bounded, its default from the environment."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from verenigingen.config import Settings
from verenigingen.settings.errors import InvalidSettingValue, SettingOutOfRange, UnknownSetting
from verenigingen.settings.registry import DEFINITIONS, RuntimeValues, defaults_of, definition_of


def test_every_setting_has_a_typed_field_and_an_environment_default() -> None:
    assert list(DEFINITIONS) == [f.name for f in dataclasses.fields(RuntimeValues)]
    assert all(name in Settings.model_fields for name in DEFINITIONS)
    assert all(definition.description for definition in DEFINITIONS.values())


def test_the_defaults_are_the_plans() -> None:
    assert defaults_of(Settings()) == RuntimeValues(
        defer_heavy_handlers=True,
        payment_history_cache=True,
        strategic_indexes=False,
        history_refresh_above=Decimal("100.00"),
        history_recalculate_invoices=5,
        history_recalculate_above=Decimal("500.00"),
        history_cache_ttl_outstanding_seconds=30 * 60,
        history_cache_ttl_settled_seconds=60 * 60,
        # The original system's per queue; the plan's per task (today's were 300 and 1500).
        job_timeout_short_seconds=300,
        job_timeout_default_seconds=300,
        job_timeout_long_seconds=1500,
        job_timeout_summary_delta_seconds=300,
        job_timeout_summary_recalculation_seconds=300,
        job_timeout_mandate_usage_seconds=180,
        job_timeout_payment_analytics_seconds=600,
        perf_regression_tolerance_percent=Decimal("5.00"),
        safety_job_failure_rate_percent=Decimal("5.00"),
        safety_backlog_age_seconds=600,
        safety_payment_submit_p95_ms=500,
        safety_submit_probes=20,
        safety_cache_sample_size=50,
        safety_check_interval_minutes=0,
        safety_auto_rollback=False,
        bank_auto_allocate_score=Decimal("0.85"),
    )


def test_the_environment_sets_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERENIGINGEN_PAYMENT_HISTORY_CACHE", "false")
    monkeypatch.setenv("VERENIGINGEN_HISTORY_CACHE_TTL_SETTLED_SECONDS", "120")
    defaults = defaults_of(Settings())
    assert defaults.payment_history_cache is False
    assert defaults.history_cache_ttl_settled_seconds == 120


def test_a_default_out_of_bounds_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERENIGINGEN_HISTORY_CACHE_TTL_OUTSTANDING_SECONDS", "-1")
    with pytest.raises(ValueError, match="VERENIGINGEN_HISTORY_CACHE_TTL_OUTSTANDING_SECONDS"):
        defaults_of(Settings())


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("payment_history_cache", True, True),
        ("payment_history_cache", "off", False),
        ("payment_history_cache", " Yes ", True),
        ("payment_history_cache", "0", False),
        ("history_recalculate_invoices", 0, 0),
        ("history_recalculate_invoices", "10000", 10_000),
        ("history_cache_ttl_settled_seconds", "1", 1),
        ("history_refresh_above", "0", Decimal("0.00")),
        ("history_refresh_above", 12.5, Decimal("12.50")),
        ("history_refresh_above", 7, Decimal("7.00")),
        ("history_refresh_above", "9999999999.99", Decimal("9999999999.99")),
        ("perf_regression_tolerance_percent", "2.5", Decimal("2.50")),
    ],
)
def test_values_parse_to_their_type(name: str, raw: object, value: object) -> None:
    parsed = definition_of(name).parse(raw)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("name", "raw", "error"),
    [
        ("history_cache_ttl_outstanding_seconds", -5, SettingOutOfRange),
        ("history_cache_ttl_outstanding_seconds", 604_801, SettingOutOfRange),
        ("history_recalculate_invoices", 10_001, SettingOutOfRange),
        ("history_recalculate_above", "-1", SettingOutOfRange),
        ("history_cache_ttl_outstanding_seconds", "1" * 31, InvalidSettingValue),
        ("history_cache_ttl_outstanding_seconds", 1.0, InvalidSettingValue),
        ("history_cache_ttl_outstanding_seconds", None, InvalidSettingValue),
        ("history_refresh_above", "NaN", InvalidSettingValue),
        ("history_refresh_above", Decimal("Infinity"), InvalidSettingValue),
        ("history_refresh_above", "١٠", InvalidSettingValue),  # other scripts' digits
        ("payment_history_cache", "", InvalidSettingValue),
        ("payment_history_cache", 0, InvalidSettingValue),
    ],
)
def test_bad_values_are_named_errors_that_name_the_setting(
    name: str, raw: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=name):
        definition_of(name).parse(raw)


def test_a_negative_time_to_live_names_the_setting_and_its_bounds() -> None:
    with pytest.raises(SettingOutOfRange) as refused:
        definition_of("history_cache_ttl_outstanding_seconds").parse(-5)
    assert refused.value.detail == (
        "history_cache_ttl_outstanding_seconds must be 1 to 604800 seconds, got -5"
    )
    assert (refused.value.code, refused.value.status_code) == ("setting_out_of_range", 422)


def test_an_unknown_name_lists_the_names() -> None:
    with pytest.raises(UnknownSetting, match="defer_heavy_handlers") as refused:
        definition_of("defer_heavy_handler")
    assert refused.value.status_code == 404


def test_values_are_stored_as_text_that_reads_back() -> None:
    for definition in DEFINITIONS.values():
        default = defaults_of(Settings()).value_of(definition.name)
        assert definition.parse(definition.text(default)) == default
    assert definition_of("defer_heavy_handlers").text(False) == "false"
    assert definition_of("history_refresh_above").text(Decimal("100.00")) == "100.00"
