from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from forecasting import lstm
from forecasting.models import ForecastModel
from forecasting.scorecard import held_out_lines
from jobs.models import JobRun
from jobs.services import JobError, job_create
from jobs.tasks import jobs_run_here
from stakeholders.commands import utility_named


class Command(BaseCommand):
    help = (
        "Train the utility's forecasting LSTM as a job, here, and print its held-out scores "
        "beside the baselines and the temperature forecast it was scored with. It becomes "
        "active where none is, or where it beats the active version on the same days."
    )

    def add_arguments(self, parser):
        parser.add_argument("--utility", required=True, help="The utility's name.")
        parser.add_argument("--epochs", type=int, help="At most this many epochs.")
        parser.add_argument(
            "--max-steps", type=int,
            help="At most this many optimizer steps: a quick trial, not a model to keep.",
        )  # fmt: skip

    def handle(
        self, *args, utility: str, epochs: int | None,
        max_steps: int | None, **options,
    ):  # fmt: skip
        found = utility_named(utility)
        config = {}
        if epochs:
            config["epochs"] = epochs
        if max_steps:
            config["max_steps"] = max_steps
            config["min_steps"] = min(max_steps, lstm.LSTMConfig().min_steps)
        last = JobRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        with transaction.atomic():
            job_create(kind="forecasting.train", params={"utility_id": found.pk, "config": config})
        self.stdout.write("Training (this takes a minute or a few)...")
        try:
            done = jobs_run_here(after_pk=last, worker="train_forecast_model")
        except JobError as exc:
            raise CommandError(str(exc)) from None
        model = ForecastModel.objects.get(pk=done[0].result["model_id"])
        for line in held_out_lines(model.metrics):
            self.stdout.write(line)
        state = model.get_status_display().lower()
        self.stdout.write(self.style.SUCCESS(f"Model v{model.version} of {found.name} is {state}."))
