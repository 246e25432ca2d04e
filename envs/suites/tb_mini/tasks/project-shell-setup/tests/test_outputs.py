"""The shell session is set up for the billing project (checked from inside that session)."""
import os
import shutil
import subprocess


def test_project_variables_are_exported():
    assert os.environ.get("BILLING_ENV") == "staging"
    assert os.environ.get("BILLING_HOME") == "/app/billing"


def test_project_tools_come_first_on_path():
    assert os.environ["PATH"].split(":")[0] == "/app/billing/bin"
    assert shutil.which("billctl") == "/app/billing/bin/billctl"
    assert subprocess.run(["billctl"], capture_output=True, text=True).stdout == "billctl staging\n"


def test_new_files_are_private_to_the_group():
    mask = os.umask(0)
    os.umask(mask)
    assert mask == 0o027


def test_current_directory_is_the_var_folder():
    assert os.getcwd() == "/app/billing/var"
