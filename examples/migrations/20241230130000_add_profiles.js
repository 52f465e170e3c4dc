// From the product documentation ("JavaScript Migrations"); the SQL body it omits is filled in.
const migration = {
  version: '20241230130000_add_profiles',
  name: 'add_profiles',
  description: 'Add user profiles functionality',
  targetSchemas: ['users'],
  dependencies: ['20241230120000_create_users'],
  createdAt: new Date('2024-12-30T13:00:00Z'),
  async up(context) {
    await context.query(`
      CREATE TABLE profiles (
        user_id integer PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        bio text,
        avatar_url text
      )`);
  },
  async down(context) {
    await context.query('DROP TABLE IF EXISTS profiles');
  },
};

module.exports = migration;
