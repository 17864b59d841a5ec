"""Back-office uploads in tests: run the job an upload queued, as a worker would."""

from jobs.models import JobRun
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS


def finish_upload(client, response):
    """The page that follows an upload's job, once the job has run."""
    assert response.status_code == 302, response.content.decode()[:2000]
    job = JobRun.objects.get(pk=int(response.url.split("job=")[1]))
    job_execute(job_id=job.pk, work=JOB_TASKS[job.kind])
    return client.get(response.url)
