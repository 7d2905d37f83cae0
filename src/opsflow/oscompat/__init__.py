"""The places where Opsflow depends on the operating system, one small module per concern.

`process_tree` starts a child that can be ended with everything it started, `shell_line`
says which shell runs a `shell: true` line, `private_file` keeps files to this user. Each
has a POSIX branch (tested) and a Windows branch (written from the documentation, untested
until a Windows CI job runs; packaging/README.md lists what it must run). Whether another
process still lives is `opsflow.engine.owners`'s own concern and stays there.
"""
