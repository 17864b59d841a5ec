"""CSV uploads in the back office: a file up to MAX_UPLOAD_MB is kept and imported by a worker
job; the same page then follows the job (progress, what landed, or every bad line)."""

from django import forms
from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path

from jobs.models import JobRun

from .admin_scoping import refused
from .csvimport import csv_upload_job_create

REFRESH_S = 2


class CsvFileField(forms.FileField):
    """A CSV upload of at most settings.UPLOAD_MAX_MB; a larger one is refused with the command
    that takes any size."""

    def __init__(self, *, command: str, **kwargs) -> None:
        self.command = command
        kwargs.setdefault("label", "CSV file")
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if upload is not None and upload.size > settings.UPLOAD_MAX_MB * 2**20:
            raise forms.ValidationError(
                f"The file is {upload.size / 2**20:,.0f} MB, over the {settings.UPLOAD_MAX_MB} MB "
                f"an upload may hold: import it with manage.py {self.command}."
            )
        return upload


class CsvUploadAdmin:
    """A model admin's "Upload ... (CSV)" page at upload/: `upload_url_name` names it, and
    `upload(request)` draws it (with upload_page). It asks for the model's add and change
    permissions both (an upload adds rows and changes those it names again); without them the
    page says so in words, `upload_refusal`."""

    upload_url_name: str
    upload_refusal: str

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name=self.upload_url_name,
            ),
            *super().get_urls(),
        ]

    def has_upload_permission(self, request) -> bool:
        return self.has_model_permission(request, "add") and self.has_model_permission(
            request, "change"
        )

    def upload_view(self, request):
        if not self.has_upload_permission(request):
            return refused(request, self, self.upload_refusal)
        return self.upload(request)


def upload_page(
    model_admin, request, *, form, title: str, job_kind: str, params, describe, what: str
):
    """The upload form, and under ?job= the job it queued: `params(cleaned_data)` are the
    job's parameters, `describe(result)` says in words what an import that landed did. The
    upload is logged on its utility, `what` saying what the file holds."""
    job = None
    if "job" in request.GET:
        job = JobRun.objects.filter(
            pk=_int(request.GET["job"]), kind=job_kind, requested_by=request.user
        ).first()
        if job is None:
            raise Http404("No such upload of yours.")
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["csv_file"]
        job = csv_upload_job_create(
            kind=job_kind, upload=upload, params=params(form.cleaned_data),
            requested_by=request.user,
        )  # fmt: skip
        model_admin.log_change(
            request, form.cleaned_data["utility"],
            f"Uploaded {upload.name} ({what}): checked and imported by job #{job.pk}.",
        )  # fmt: skip
        model_admin.message_user(request, f"{upload.name} is uploaded: job #{job.pk} checks it.")
        return redirect(f"{request.path}?job={job.pk}")
    result = job.result if job is not None else {}
    return render(
        request,
        "admin/csv_upload.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "form": form,
            "opts": model_admin.model._meta,
            "job": job,
            "refresh_s": REFRESH_S if job is not None and not job.is_finished else None,
            "summary": describe(result) if job and job.status == JobRun.Status.SUCCEEDED else "",
            "notes": result.get("notes", []),
            "errors": [
                {"line": line, "reason": reason} for line, reason in result.get("errors", [])
            ],
            "error_count": result.get("error_count", 0),
            "max_mb": settings.UPLOAD_MAX_MB,
        },
    )


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Http404("No such upload of yours.") from None
