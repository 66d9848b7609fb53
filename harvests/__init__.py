"""Seeds and harvests: what each family received from the programme and what it brought in."""
