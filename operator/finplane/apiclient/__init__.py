"""The platform API's client for the `finplane` command: where to connect and with which token, and HTTP.

`config` finds the URL and token (options, environment, the file `finplane dev` writes, the file
`finplane login` writes); `http` sends requests with httpx and turns refusals into
`finplane.commands.errors.UserError` with the API's own reason. Called by the `finplane.commands.api_*`
subcommands only.
"""
