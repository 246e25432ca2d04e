"""Checks of the nightly report, run by the auditor account."""
import os
import pwd
from pathlib import Path

REPORT = Path("/srv/reports/out/summary.txt")
LOG = Path("/var/log/report-job/run.log")
EXPECTED = """\
| region   |   total_EUR |
|----------|-------------|
| east     |      345.40 |
| north    |      169.15 |
| south    |       97.99 |
| west     |       72.00 |
"""


def test_the_auditor_reads_the_report():
    assert pwd.getpwuid(os.getuid()).pw_name == "auditor"
    assert REPORT.read_text() == EXPECTED


def test_the_report_belongs_to_the_service_account():
    owner = os.environ["REPORT_OWNER"]
    for path in (REPORT, REPORT.parent):
        assert pwd.getpwuid(path.stat().st_uid).pw_name == owner, path


def test_the_job_log_records_the_run():
    assert LOG.read_text().splitlines()[-1] == "report ok EUR"
    assert pwd.getpwuid(LOG.stat().st_uid).pw_name == "reporter"
