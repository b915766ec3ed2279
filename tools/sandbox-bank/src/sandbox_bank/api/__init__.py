"""The sandbox bank's HTTP edge: Berlin Group NextGenPSD2 routes and the /sandbox controls."""
