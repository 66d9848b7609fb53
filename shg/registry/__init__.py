"""The group registry: geography, villages, groups, households, members, meetings."""
