"""A global LSTM for day-ahead load forecasts with P10 / P50 / P90 and a mean. Pure torch / numpy.

One model for every building. Each sample is one building and one forecast day, issued at
midnight: the LSTM reads the last `lookback_days` days, one step per day (that day's 24 hourly
loads, 24 temperatures and its calendar), and a head combines its state with what is known of
the target day (temperature forecast, calendar, the 7-day-mean profile and static features) to
give, for each of the next `horizon_days * 24` hours, P10 / P50 / P90 (pinball loss) and a mean
(squared error), the point forecast that CV(RMSE) judges.

Loads are divided by the mean of the sample's own lookback window, so the model is free of
scale and serves a 1 kW home and a 1 MW office alike.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

QUANTILES = (0.1, 0.5, 0.9)
CALENDAR_FEATURES = 8  # weekday one-hot (7) and holiday flag
STATIC_FEATURES = 2  # log of mean kW, PV kW per mean kW
TEMP_CENTRE_C, TEMP_SPREAD_C = 20.0, 10.0
EPS_KW = 1e-3
# Why a training stopped: patience ran out, the epoch cap (raised to min_steps), the step cap.
STOP_REASONS = ("early_stopping", "epoch_cap", "step_cap")


@dataclass
class LSTMConfig:
    lookback_days: int = 14
    horizon_days: int = 1
    hidden: int = 64
    head_hidden: int = 128
    dropout: float = 0.1
    # Training stops early once the validation loss has not improved for `patience` epochs and
    # `patience_steps` optimizer steps, else at the epoch cap: `epochs`, raised so that a
    # utility with few meters (one batch an epoch) may still take `min_steps` steps, and never
    # past `max_steps`, which bounds the wall clock.
    epochs: int = 80
    min_steps: int = 2_000
    max_steps: int = 20_000
    batch_size: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 12
    patience_steps: int = 100
    validation_share: float = 0.15
    seed: int = 0
    threads: int = 2
    # False for a utility with no temperature to learn from: the temperature inputs are zeros.
    use_temperature: bool = True

    @property
    def horizon_h(self) -> int:
        return 24 * self.horizon_days


@dataclass
class Samples:
    """Model inputs for n samples and, when known, their targets (kW divided by scale)."""

    sequence: np.ndarray  # (n, lookback_days, 48 + CALENDAR_FEATURES) float32
    known: np.ndarray  # (n, horizon_h * 2 + horizon_days * CALENDAR_FEATURES + STATIC) float32
    scale: np.ndarray  # (n,) kW that 1.0 stands for
    target: np.ndarray | None = None  # (n, horizon_h) float32


def calendar_features(weekday: np.ndarray, holiday: np.ndarray) -> np.ndarray:
    """(days,) weekday 0=Monday and holiday flags -> (days, 8)."""
    out = np.zeros((weekday.shape[0], CALENDAR_FEATURES), dtype=np.float32)
    out[np.arange(weekday.shape[0]), weekday] = 1.0
    out[:, 7] = holiday
    return out


def build_samples(
    load: np.ndarray,
    temperature: np.ndarray,
    temperature_forecast: np.ndarray,
    calendar: np.ndarray,
    static: np.ndarray,
    targets: np.ndarray,
    config: LSTMConfig,
    *,
    with_target: bool = True,
) -> Samples:
    """Samples for buildings x target days.

    load: (b, days, 24) kW, no NaN (clean first); temperature and temperature_forecast:
    (days, 24) shared by the buildings (the forecast for day d as issued the day before);
    calendar: (days, 8); static: (b, 2); targets: indices of the first forecast day of each
    sample, each >= lookback_days. Every building gets every target day.
    """
    lookback, horizon = config.lookback_days, config.horizon_days
    b = load.shape[0]
    targets = np.asarray(targets)
    n = b * targets.size
    past = targets[:, None] + np.arange(-lookback, 0)[None, :]  # (t, lookback)
    ahead = targets[:, None] + np.arange(horizon)[None, :]  # (t, horizon)
    window = load[:, past, :]  # (b, t, lookback, 24)
    scale = window.reshape(b, targets.size, -1).mean(axis=2) + EPS_KW  # (b, t)
    norm = window / scale[:, :, None, None]
    temps = np.broadcast_to(_temperature_feature(temperature[past], config)[None], norm.shape)
    cal = np.broadcast_to(calendar[past][None], (b, *calendar[past].shape))
    sequence = np.concatenate([norm, temps, cal], axis=3).reshape(n, lookback, -1)
    mean7 = norm[:, :, -7:, :].mean(axis=2)  # (b, t, 24): the 7-day-mean profile
    mean7 = np.tile(mean7, (1, 1, horizon))
    temp_next = _temperature_feature(temperature_forecast[ahead], config)  # (t, horizon, 24)
    known = np.concatenate(
        [
            np.broadcast_to(
                temp_next.reshape(1, targets.size, -1), (b, targets.size, horizon * 24)
            ),
            np.broadcast_to(
                calendar[ahead].reshape(1, targets.size, -1), (b, targets.size, horizon * 8)
            ),
            mean7,
            np.broadcast_to(static[:, None, :], (b, targets.size, static.shape[1])),
        ],
        axis=2,
    ).reshape(n, -1)
    target = None
    if with_target:
        target = (load[:, ahead, :].reshape(b, targets.size, -1) / scale[:, :, None]).reshape(n, -1)
    return Samples(
        sequence=sequence.astype(np.float32),
        known=known.astype(np.float32),
        scale=scale.reshape(n).astype(np.float32),
        target=None if target is None else target.astype(np.float32),
    )


def _temperature_feature(temperature_c: np.ndarray, config: LSTMConfig) -> np.ndarray:
    """°C -> the model's input; zeros (NaN allowed in) for a model trained without temperature."""
    if not config.use_temperature:
        return np.zeros(temperature_c.shape, dtype=np.float32)
    return (temperature_c - TEMP_CENTRE_C) / TEMP_SPREAD_C


class GlobalLSTM(nn.Module):
    def __init__(self, sequence_features: int, known_features: int, config: LSTMConfig) -> None:
        super().__init__()
        self.horizon_h = config.horizon_h
        self.lstm = nn.LSTM(sequence_features, config.hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(config.hidden + known_features, config.head_hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.head_hidden, config.horizon_h * 4),
        )
        self.known_features = known_features

    def forward(self, sequence: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """-> (n, horizon_h, 4): P10, P50, P90, mean (in units of scale)."""
        _, (state, _) = self.lstm(sequence)
        raw = self.head(torch.cat([state[-1], known], dim=1)).view(-1, self.horizon_h, 4)
        # The 7-day-mean profile is the starting point; the network learns the correction.
        base = known[:, -(self.horizon_h + STATIC_FEATURES) : -STATIC_FEATURES]
        p50 = base + raw[..., 1]
        p10 = p50 - nn.functional.softplus(raw[..., 0])
        p90 = p50 + nn.functional.softplus(raw[..., 2])
        mean = base + raw[..., 3]
        return torch.stack([p10, p50, p90, mean], dim=-1)


def loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pinball loss of the three quantiles plus the squared error of the mean."""
    total = torch.zeros((), dtype=output.dtype)
    for index, q in enumerate(QUANTILES):
        error = target - output[..., index]
        total = total + torch.maximum(q * error, (q - 1) * error).mean()
    return total + 0.5 * ((target - output[..., 3]) ** 2).mean()


@dataclass
class TrainedModel:
    config: LSTMConfig
    state: dict
    sequence_features: int
    known_features: int
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    stopped: str = ""  # one of STOP_REASONS

    @property
    def training(self) -> dict:
        """How the training went, for the model record."""
        return {"epochs": len(self.history), "steps": self.steps, "stopped": self.stopped}

    def module(self, device: str = "cpu") -> GlobalLSTM:
        model = GlobalLSTM(self.sequence_features, self.known_features, self.config)
        model.load_state_dict(self.state)
        return model.to(device).eval()

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(
            {
                "config": asdict(self.config),
                "state": self.state,
                "sequence_features": self.sequence_features,
                "known_features": self.known_features,
                "history": self.history,
                "steps": self.steps,
                "stopped": self.stopped,
            },
            buffer,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> TrainedModel:
        saved = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        return cls(
            config=LSTMConfig(**saved["config"]),
            state=saved["state"],
            sequence_features=saved["sequence_features"],
            known_features=saved["known_features"],
            history=saved["history"],
            steps=saved.get("steps", 0),
            stopped=saved.get("stopped", ""),
        )


def pick_device(prefer: str | None = None) -> str:
    if prefer:
        return prefer
    return "cuda" if torch.cuda.is_available() else "cpu"


def train(
    samples: Samples,
    config: LSTMConfig,
    *,
    device: str | None = None,
    progress=None,
) -> TrainedModel:
    """Fit on `samples` (time-ordered), keeping the last validation_share for early stopping.

    Patience counts epochs and optimizer steps alike, so that data of one batch an epoch are
    not stopped by a few noisy steps; the epoch cap allows `min_steps` steps at least and
    `max_steps` at most. Keeps the weights of the best validation loss.
    `progress(epoch, most_epochs, valid_loss)` is called after each epoch.
    """
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    torch.set_num_threads(max(1, min(2, config.threads)))
    device = pick_device(device)
    n = samples.sequence.shape[0]
    order = np.arange(n)
    cut = min(int(n * (1 - config.validation_share)), n - 1)  # at least one sample validates
    train_idx, valid_idx = order[:cut], order[cut:]
    tensors = [
        torch.from_numpy(array).to(device)
        for array in (samples.sequence, samples.known, samples.target)
    ]
    model = GlobalLSTM(samples.sequence.shape[2], samples.known.shape[1], config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = max(1, math.ceil(train_idx.size / config.batch_size))
    most_epochs = min(
        max(config.epochs, math.ceil(config.min_steps / steps_per_epoch)),
        math.ceil(config.max_steps / steps_per_epoch),
    )
    best, best_state, best_step, waited, history = math.inf, None, 0, 0, []
    steps, stopped = 0, "epoch_cap"
    for epoch in range(most_epochs):
        model.train()
        permutation = torch.from_numpy(train_idx)[
            torch.randperm(train_idx.size, generator=generator)
        ]
        for start in range(0, permutation.numel(), config.batch_size):
            batch = permutation[start : start + config.batch_size].to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(tensors[0][batch], tensors[1][batch]), tensors[2][batch])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            steps += 1
            if steps >= config.max_steps:
                break
        model.eval()
        with torch.no_grad():
            valid = torch.from_numpy(valid_idx).to(device)
            valid_loss = float(
                loss_fn(model(tensors[0][valid], tensors[1][valid]), tensors[2][valid])
            )
        history.append({"epoch": epoch + 1, "steps": steps, "valid_loss": valid_loss})
        if progress:
            progress(epoch + 1, most_epochs, valid_loss)
        if valid_loss < best - 1e-5:
            best, best_step, waited = valid_loss, steps, 0
            best_state = {
                key: value.detach().cpu().clone() for key, value in model.state_dict().items()
            }
        else:
            waited += 1
        if steps >= config.max_steps:
            stopped = "step_cap"
            break
        if waited >= config.patience and steps - best_step >= config.patience_steps:
            stopped = "early_stopping"
            break
    return TrainedModel(
        config=config,
        state=best_state,
        sequence_features=samples.sequence.shape[2],
        known_features=samples.known.shape[1],
        history=history,
        steps=steps,
        stopped=stopped,
    )


def predict(
    trained: TrainedModel, samples: Samples, *, device: str | None = None, batch: int = 16384
) -> np.ndarray:
    """-> (n, horizon_h, 4) kW: P10, P50, P90, mean; never negative, quantiles ordered."""
    torch.set_num_threads(max(1, min(2, trained.config.threads)))
    device = pick_device(device)
    model = trained.module(device)
    out = np.empty((samples.sequence.shape[0], trained.config.horizon_h, 4), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, out.shape[0], batch):
            part = slice(start, start + batch)
            result = model(
                torch.from_numpy(samples.sequence[part]).to(device),
                torch.from_numpy(samples.known[part]).to(device),
            )
            out[part] = result.cpu().numpy()
    out *= samples.scale[:, None, None]
    np.maximum(out, 0.0, out=out)
    out[..., :3] = np.sort(
        out[..., :3], axis=-1
    )  # clipping at 0 cannot unorder, sorting is cheap insurance
    return out
