"""Training and serving the compliance model. The outcomes come from optimization's
verification (this app never imports optimization): it hands them over as compliance.Events."""

from __future__ import annotations

import numpy as np
from django.db import transaction
from django.db.models import Max

from stakeholders.models import Utility

from .. import compliance
from ..models import ComplianceModelVersion
from .models import ForecastError

HELD_OUT_SHARE = 0.25
MIN_OUTCOMES = 30


def _take(events: compliance.Events, index: np.ndarray) -> compliance.Events:
    return compliance.Events(
        **{
            name: None if getattr(events, name) is None else getattr(events, name)[index]
            for name in events.__dataclass_fields__
        }
    )


def compliance_model_train(
    *, utility: Utility, events: compliance.Events
) -> ComplianceModelVersion:
    """Score on the latest HELD_OUT_SHARE of the outcomes (time-ordered) with a model fitted on
    the rest, then fit on all of them and make that the utility's active compliance model."""
    n = len(events.building_type)
    if events.complied is None or n < MIN_OUTCOMES:
        raise ForecastError(
            f"Compliance training needs at least {MIN_OUTCOMES} verified outcomes; there are {n}."
        )
    cut = int(n * (1 - HELD_OUT_SHARE))
    train, test = _take(events, np.arange(cut)), _take(events, np.arange(cut, n))
    metrics: dict = {"outcomes": n, "held_out": n - cut}
    try:
        scored = compliance.fit(train)
        predicted = compliance.predict(scored, test)
        metrics.update(
            auc=round(compliance.auc(test.complied, predicted), 4),
            brier=round(compliance.brier(test.complied, predicted), 4),
            calibration=compliance.calibration_table(test.complied, predicted),
        )
    except ValueError as exc:  # one kind of outcome only in a part: no score, say why
        metrics["not_scored"] = str(exc)
    try:
        model = compliance.fit(events)
    except ValueError as exc:
        raise ForecastError(str(exc)) from None
    with transaction.atomic():
        Utility.objects.select_for_update().filter(pk=utility.pk).first()
        latest = ComplianceModelVersion.objects.filter(utility=utility).aggregate(v=Max("version"))[
            "v"
        ]
        ComplianceModelVersion.objects.filter(utility=utility, active=True).update(active=False)
        return ComplianceModelVersion.objects.create(
            utility=utility,
            version=(latest or 0) + 1,
            outcomes=n,
            metrics=metrics,
            weights=model.to_bytes(),
        )


def compliance_predict(
    *, utility: Utility, events: compliance.Events
) -> tuple[np.ndarray, int | None]:
    """P(complies) per row from the utility's active model, or the priors when it has none."""
    version = ComplianceModelVersion.objects.filter(utility=utility, active=True).first()
    model = compliance.ComplianceModel.from_bytes(bytes(version.weights)) if version else None
    return compliance.predict(model, events), version.version if version else None
