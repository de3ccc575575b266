import request from 'supertest'
import { createApp } from '../../examples/wizard.js'
import { cookiePair, sleep } from '../support/http.js'

// The wizard example, driven like a browser without JavaScript: forms posted urlencoded, redirects followed by hand.
describe('examples/wizard', () => {
  const wizards: ReturnType<typeof createApp>[] = []
  const wizard = (options: Parameters<typeof createApp>[0] = {}) => {
    const built = createApp({ secret: 'wizard test', ...options })
    wizards.push(built)
    return built.app
  }
  afterAll(() => Promise.all(wizards.map(({ stash }) => stash.close())))

  test('step 1, step 2, summary, reset', async () => {
    const agent = request.agent(wizard())
    await agent.get('/').expect(303).expect('location', '/step/1')
    await agent.get('/step/2').expect(303).expect('location', '/step/1?expired=1')

    await agent.post('/step/1').type('form').send({ name: '  Ada <Lovelace> ' }).expect(303).expect('location', '/step/2')
    const step2 = await agent.get('/step/2').expect(200)
    expect(step2.text).toContain('Hello, <strong>Ada &lt;Lovelace&gt;</strong>')
    await agent.get('/summary').expect(303).expect('location', '/step/2')

    await agent
      .post('/step/2')
      .type('form')
      .send({ address: '12 St James\'s Square, "London"' })
      .expect(303)
      .expect('location', '/summary')
    const summary = await agent.get('/summary').expect(200)
    expect(summary.text).toContain('<dd id="name">Ada &lt;Lovelace&gt;</dd>')
    expect(summary.text).toContain('<dd id="address">12 St James&#39;s Square, &quot;London&quot;</dd>')
    // Going back shows the stored answers in the forms.
    expect((await agent.get('/step/1').expect(200)).text).toContain('value="Ada &lt;Lovelace&gt;"')

    await agent.post('/reset').expect(303).expect('location', '/step/1')
    await agent.get('/summary').expect(303).expect('location', '/step/1?expired=1')
    expect((await agent.get('/step/1').expect(200)).text).toContain('value=""')
  })

  test('invalid answers are refused with the form again, and nothing is stored', async () => {
    const app = wizard()
    const empty = await request(app).post('/step/1').type('form').send({ name: '   ' }).expect(400)
    expect(empty.text).toContain('Please enter a name')
    expect(empty.headers['set-cookie']).toBeUndefined()
    await request(app)
      .post('/step/1')
      .type('form')
      .send({ name: 'x'.repeat(201) })
      .expect(400)
    await request(app).post('/step/1').type('form').send('name=a&name=b').expect(400)

    const agent = request.agent(app)
    await agent.post('/step/1').type('form').send({ name: 'Ada' }).expect(303)
    expect((await agent.post('/step/2').type('form').send({}).expect(400)).text).toContain('Please enter an address')
    await agent.get('/summary').expect(303).expect('location', '/step/2')
  })

  test("step 1's short ttl: an abandoned name expires; from step 2 on the longer ttl applies", async () => {
    const app = wizard({ nameTtl: 1, wizardTtl: 30 })
    const abandoned = cookiePair(await request(app).post('/step/1').type('form').send({ name: 'Ada' }).expect(303))
    const continued = cookiePair(await request(app).post('/step/1').type('form').send({ name: 'Grace' }).expect(303))
    // Reaching step 2 gives the name the ttl of step 2's route, which declares it too.
    expect((await request(app).get('/step/2').set('cookie', continued).expect(200)).text).toContain('Grace')

    await sleep(1500) // past step 1's ttl of 1 s
    await request(app).get('/step/2').set('cookie', abandoned).expect(303).expect('location', '/step/1?expired=1')
    expect((await request(app).get('/step/2').set('cookie', continued).expect(200)).text).toContain('Grace')
  })
})
