from jobs.services import JobContext
from jobs.tasks import job_task

from .services.citylearn_import import citylearn_load, citylearn_store


@job_task("forecasting.import_citylearn")
def import_citylearn(context: JobContext) -> None:
    """Import the 17 CityLearn homes, their year of readings and the utility's series."""
    context.progress(5, note="reading the CityLearn wheel")
    data = citylearn_load()
    context.progress(30, note="storing homes and readings")
    with context.commit() as result:
        result.update(citylearn_store(data=data))
        context.counts.update(buildings=result["buildings"], meter_days=result["meter_days"])
