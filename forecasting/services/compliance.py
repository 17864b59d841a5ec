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
MIN_OUTCOMES = compliance.MIN_OUTCOMES


def compliance_model_train(
    *, utility: Utility, events: compliance.Events
) -> ComplianceModelVersion:
    """Score on the latest HELD_OUT_SHARE of the outcomes (time-ordered) with a model fitted on
    the rest; the regression serves only if it beats the type priors there, else the priors
    do (metrics["kept"] says which). The new version becomes the utility's active one."""
    n = len(events.building_type)
    if events.complied is None or n < MIN_OUTCOMES:
        raise ForecastError(
            f"Compliance training needs at least {MIN_OUTCOMES} verified outcomes; there are {n}."
        )
    model, metrics = compliance.fit_if_better(events, held_out_share=HELD_OUT_SHARE)
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
    *, utility: Utility, events: compliance.Events, default_share: float
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Per row: P(complies) and the share of the ask expected to be delivered, from the
    utility's active model (its response model where it has learnt one from verified kW, else
    default_share x P), or from the priors when it has none; and the model's version."""
    version = ComplianceModelVersion.objects.filter(utility=utility, active=True).first()
    model = compliance.ComplianceModel.from_bytes(bytes(version.weights)) if version else None
    probability = compliance.predict(model, events)
    share = compliance.expected_share(model, events, probability, default_share)
    return probability, share, version.version if version else None
