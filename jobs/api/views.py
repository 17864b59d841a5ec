from django.http import Http404
from rest_framework import generics

from jobs.api.serializers import JobRunOutputSerializer
from jobs.selectors import job_get, job_list


class JobListApi(generics.ListAPIView):
    """Jobs the caller may see, newest first: status, progress, timings and errors."""

    serializer_class = JobRunOutputSerializer

    def get_queryset(self):
        return job_list(user=self.request.user)


class JobDetailApi(generics.RetrieveAPIView):
    serializer_class = JobRunOutputSerializer

    def get_object(self):
        job = job_get(user=self.request.user, job_id=self.kwargs["pk"])
        if job is None:
            raise Http404
        return job
