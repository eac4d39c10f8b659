"""The flight and ship schedule each hall expects: posted by the airport and port operators,
kept in Redis for the queue monitor's forecast."""
