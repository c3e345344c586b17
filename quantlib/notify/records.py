"""What customer messages say about a job, read from gold once for every sender (e-mail, SMS)."""

from __future__ import annotations

__all__ = ["job_for_message"]


def job_for_message(con, job_id: str) -> dict:
    """The job's customer and what was done or booked: ``customer_id, customer_name, service``
    (service line and job type in words), ``service_line, job_type, scheduled_start, completed_at,
    status, technician, region``.

    Raises
    ------
    KeyError
        No such job in gold.
    """
    row = con.execute(
        """SELECT j.customer_id, c.name, j.service_line, j.job_type, j.scheduled_start, j.completed_at, j.status,
                  j.technician_name, j.region
           FROM job_facts j JOIN customers c USING (customer_id) WHERE j.job_id = ?""", [job_id]).fetchone()
    if row is None:
        raise KeyError(f"no job {job_id!r} in gold")
    customer_id, name, line, job_type, start, completed, status, technician, region = row
    return {"customer_id": customer_id, "customer_name": name, "service": f"{line} {str(job_type).replace('_', ' ')}",
            "service_line": line, "job_type": job_type, "scheduled_start": start, "completed_at": completed,
            "status": status, "technician": technician or "", "region": region}
