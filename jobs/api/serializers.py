from rest_framework import serializers

from jobs.models import JobRun


class JobRunOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None)

    class Meta:
        model = JobRun
        fields = (
            "id",
            "kind",
            "status",
            "progress",
            "progress_note",
            "counts",
            "result",
            "attempts",
            "queued_at",
            "started_at",
            "finished_at",
            "duration_s",
            "peak_memory_mb",
            "error",
            "requested_by",
        )
        read_only_fields = fields
