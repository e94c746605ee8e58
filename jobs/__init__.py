"""Rules, the scheduler and the command line. Dependencies point one way: jobs → integrations → bases."""
