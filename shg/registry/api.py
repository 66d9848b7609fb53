"""Registry endpoints of the JSON API (countries, districts, villages, groups, households,
members, meetings). Thin: load with the schema, call the service, dump with the schema."""
from shg.api import api_blueprint

# filled in below
