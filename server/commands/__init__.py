"""The ``hailong`` subcommands, one module per area."""


def register(cli):
    from server.commands import database, devices, jobs, org, serve, staff, users

    cli.add_command(database.migrate)
    cli.add_command(serve.serve)
    cli.add_command(jobs.jobs)
    cli.add_command(org.org)
    cli.add_command(devices.device_code)
    cli.add_command(devices.device)
    cli.add_command(staff.staff)
    cli.add_command(users.user)
