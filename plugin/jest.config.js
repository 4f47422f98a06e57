// Times in snapshots and fixtures are read in UTC wherever the tests run.
process.env.TZ = 'UTC';

module.exports = {
  ...require('./.config/jest.config'),
};
