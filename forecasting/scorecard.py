"""How a model record's held-out scores read for people: the forecasters' names and the table
a command prints. Pure Python, over ForecastModel.metrics."""

FORECASTER_LABELS = {
    "lstm": "LSTM (the model)",
    "prevday": "previous day",
    "prevweek": "previous week",
    "mean7": "7-day mean",
}


def held_out_lines(metrics: dict) -> list[str]:
    """The held-out table (median and total CV(RMSE), NMBE per forecaster), then the temperature
    forecast the model was scored with and how its training stopped."""
    lines = [
        f"{'forecaster':<18} {'median CV(RMSE)':>16} {'total CV(RMSE)':>15} {'total NMBE':>11}"
    ]
    for name, label in FORECASTER_LABELS.items():
        scores = metrics.get(name)
        if isinstance(scores, dict) and "median_cvrmse_pct" in scores:
            lines.append(
                f"{label:<18} {scores['median_cvrmse_pct']:>14.1f} % {scores['total_cvrmse_pct']:>13.1f} % "
                f"{scores['total_nmbe_pct']:>9.1f} %"
            )
    weather = metrics.get("temperature_forecast") or {}
    if weather:
        lines.append(
            f"Temperature forecast: {weather.get('label', weather.get('source', 'unknown'))}"
        )
    training = metrics.get("training") or {}
    if training:
        lines.append(
            f"Training: {training.get('epochs', '?')} epochs, {training.get('steps', '?'):,} steps, "
            f"stopped by {str(training.get('stopped', '?')).replace('_', ' ')}"
        )
    promotion = metrics.get("promotion") or {}
    if promotion.get("reason"):
        lines.append(f"Promotion: {promotion['reason']}")
    return lines
